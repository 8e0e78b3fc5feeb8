from django.db import migrations
from django.utils.text import slugify

# Frozen copy: a migration must not import a list that may change later.
GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)


def create_genres(apps, schema_editor):
    Genre = apps.get_model("catalog", "Genre")
    for position, name in enumerate(GENRES):
        Genre.objects.update_or_create(
            position=position, defaults={"name": name, "slug": slugify(name)}
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(create_genres, migrations.RunPython.noop)]
