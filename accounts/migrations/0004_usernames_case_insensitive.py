import django.db.models.functions.text
from django.db import migrations, models

import accounts.models


def resolve_clashes(apps, schema_editor):
    """Usernames that differ only in case become one name space. Where two
    accounts clash, the oldest keeps its name and the others get "-<id>"
    appended (nothing else changes); each rename is reported, so that an
    operator can tell the members concerned."""
    User = apps.get_model("accounts", "User")
    seen: dict[str, int] = {}
    for pk, username in User.objects.order_by("pk").values_list("pk", "username"):
        key = username.lower()
        if key not in seen:
            seen[key] = pk
            continue
        renamed = f"{username}-{pk}"
        while renamed.lower() in seen:
            renamed += "x"
        User.objects.filter(pk=pk).update(username=renamed)
        seen[renamed.lower()] = pk
        print(
            f"\n  username clash: account {pk} {username!r} matches account {seen[key]} "
            f"in all but case; renamed to {renamed!r}"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_token"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", accounts.models.MemberManager()),
            ],
        ),
        migrations.RunPython(resolve_clashes, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("username"),
                name="user_username_case_insensitive",
            ),
        ),
    ]
