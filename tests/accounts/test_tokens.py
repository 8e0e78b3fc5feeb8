"""API tokens a member can see, revoke and outlive: expiry, password changes, the admin."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import api_token_create

JSON = "application/json"


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def token_works(token) -> bool:
    """As a program would ask: a client of its own, with no session."""
    return Client().get("/api/users/me", **bearer(token)).status_code == 200


def test_tokens_are_listed_without_their_secret_and_the_current_one_is_marked(client, member):
    first, second = api_token_create(user=member), api_token_create(user=member)
    listed = client.get("/api/tokens", **bearer(second))
    assert listed.status_code == 200
    body = listed.json()
    assert len(body) == 2
    assert [t["current"] for t in body] == [True, False]
    assert first not in listed.text and second not in listed.text


def test_delete_current_revokes_only_the_token_used(client, member):
    kept, used = api_token_create(user=member), api_token_create(user=member)
    assert client.delete("/api/tokens/current", **bearer(used)).status_code == 204
    assert not token_works(used)
    assert token_works(kept)


def test_a_member_cannot_revoke_someone_elses_token(client, member, django_user_model):
    other = django_user_model.objects.create_user(username="bob", password="x" * 12)
    api_token_create(user=other)
    theirs = ApiToken.objects.get(user=other)
    mine = api_token_create(user=member)
    assert client.delete(f"/api/tokens/{theirs.pk}", **bearer(mine)).status_code == 404
    assert ApiToken.objects.filter(pk=theirs.pk).exists()


def test_tokens_expire_after_api_token_days(client, member, settings):
    settings.API_TOKEN_DAYS = 90
    token = api_token_create(user=member)
    ApiToken.objects.update(created_at=timezone.now() - timedelta(days=91))
    assert not token_works(token)
    settings.API_TOKEN_DAYS = 120
    assert token_works(token)


def test_a_deactivated_members_token_stops_working(member):
    token = api_token_create(user=member)
    assert token_works(token)
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert not token_works(token)


def test_a_tokens_use_is_recorded_at_most_once_a_minute(member):
    token = api_token_create(user=member)
    assert ApiToken.objects.get().last_used_at is None
    assert token_works(token)
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    assert token_works(token)
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=first - timedelta(seconds=61))
    assert token_works(token)
    assert ApiToken.objects.get().last_used_at > first


def test_a_token_answers_as_its_member_with_their_profile(member):
    token = api_token_create(user=member)
    body = Client().get("/api/users/me", **bearer(token)).json()
    assert body["id"] == member.pk and body["username"] == member.username


def test_changing_the_password_revokes_the_tokens(client, member):
    token = api_token_create(user=member)
    client.force_login(member)
    page = client.get(reverse("accounts:password_change"))
    assert page.status_code == 200 and "Change your password" in page.text
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": "correct horse battery",
            "new_password1": "a brand new passphrase 7",
            "new_password2": "a brand new passphrase 7",
        },
    )
    assert response.status_code == 302 and response.url == reverse("accounts:profile")
    assert not token_works(token)
    # Still signed in on the website with the new password.
    assert client.get(reverse("accounts:profile")).status_code == 200


def test_a_wrong_old_password_changes_nothing(client, member):
    token = api_token_create(user=member)
    client.force_login(member)
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": "wrong",
            "new_password1": "n3w pass phrase!",
            "new_password2": "n3w pass phrase!",
        },
    )
    assert response.status_code == 200
    member.refresh_from_db()
    assert member.check_password("correct horse battery")
    assert token_works(token)


def test_logging_in_leaves_the_tokens_alone(client, member):
    token = api_token_create(user=member)
    client.post(
        reverse("accounts:login"), {"username": "alice", "password": "correct horse battery"}
    )
    assert token_works(token)


def test_the_profile_page_makes_shows_once_and_revokes_tokens(client, member):
    """Finding 7: the new-token page is a redirect after the post, showing the
    secret once, never in a URL; a reload does not make a second token."""
    client.force_login(member)
    made = client.post(reverse("accounts:token_create"))
    assert made.status_code == 302 and made["Location"] == reverse("accounts:profile") + "#tokens"
    shown = client.get(made["Location"])
    record = ApiToken.objects.get(user=member)
    secret = re.search(r'<code class="token">([^<]+)</code>', shown.text).group(1)
    assert secret not in made["Location"] and shown["Cache-Control"] == "no-store"
    assert token_works(secret)
    again = client.get(reverse("accounts:profile"))  # the reload
    assert record.prefix in again.text and secret not in again.text
    assert ApiToken.objects.filter(user=member).count() == 1

    revoked = client.post(reverse("accounts:token_revoke", args=[record.pk]))
    assert revoked.status_code == 302
    assert not token_works(secret)
    assert client.post(reverse("accounts:token_revoke", args=[record.pk])).status_code == 404


@pytest.mark.django_db
def test_the_admin_lists_tokens_without_their_secret(client, staff, member):
    secret = api_token_create(user=member)
    client.force_login(staff)
    page = client.get(reverse("admin:accounts_apitoken_changelist"))
    assert page.status_code == 200
    record = ApiToken.objects.get(user=member)
    assert record.prefix in page.text
    assert secret not in page.text and record.key_hash not in page.text
    detail = client.get(reverse("admin:accounts_apitoken_change", args=[record.pk]))
    assert detail.status_code == 200 and record.key_hash not in detail.text


def test_a_member_holds_a_bounded_number_of_live_tokens(client, member, settings):
    """Finding 7: thirty tokens in a row were all made."""
    settings.API_TOKENS_PER_MEMBER = 3
    settings.RATE_LIMIT_LOGIN = "0"
    client.force_login(member)
    for _ in range(5):
        client.post(reverse("accounts:token_create"))
    assert ApiToken.objects.filter(user=member).count() == 3
    refused = client.get(reverse("accounts:profile"))
    assert "revoke one you no longer use" in refused.text
    api = Client().post(
        "/api/tokens",
        {"username": "alice", "password": "correct horse battery"},
        content_type=JSON,
    )
    assert api.status_code == 409 and "revoke one" in api.json()["detail"]
    # An expired one does not count.
    ApiToken.objects.filter(pk=ApiToken.objects.first().pk).update(
        created_at=timezone.now() - timedelta(days=settings.API_TOKEN_DAYS + 1)
    )
    assert client.post(reverse("accounts:token_create")).status_code == 302
    assert ApiToken.objects.filter(user=member).count() == 4


def test_making_tokens_on_the_profile_is_limited_as_the_api_is(client, member, settings):
    settings.RATE_LIMIT_LOGIN = "2/300"
    client.force_login(member)
    codes = [client.post(reverse("accounts:token_create")).status_code for _ in range(3)]
    assert codes == [302, 302, 429]


def test_expired_tokens_are_deleted_by_the_daily_task_and_downloaded_until_then(
    client, member, settings
):
    from accounts.tasks import api_tokens_delete_expired
    from recommender.settings import CELERY_BEAT_SCHEDULE

    live, old = api_token_create(user=member), api_token_create(user=member)
    ApiToken.objects.filter(prefix=old[:12]).update(
        created_at=timezone.now() - timedelta(days=settings.API_TOKEN_DAYS + 1)
    )
    client.force_login(member)
    rows = client.get(reverse("accounts:data_download")).json()["api_tokens"]
    assert sorted(row["expired"] for row in rows) == [False, True]
    assert (
        CELERY_BEAT_SCHEDULE["expired-tokens"]["task"] == "accounts.tasks.api_tokens_delete_expired"
    )
    assert api_tokens_delete_expired() == 1
    assert [t.prefix for t in ApiToken.objects.all()] == [live[:12]]
