"""The accounts services: MovieLens members, sign-ups, demographics, tokens
and deletion, called as views, the API and commands call them."""

from datetime import timedelta

import pytest
from django.contrib.auth import authenticate

from accounts.models import ApiToken, Source, User
from accounts.services import (
    UsernameTaken,
    api_token_create,
    api_token_revoke,
    api_token_user,
    api_tokens_of,
    user_create,
    user_delete,
    user_update_demographics,
    users_import_movielens,
)
from core.movielens import UserRecord


def _record(movielens_id: int) -> UserRecord:
    return UserRecord(movielens_id, 30, "F", "writer", "10001")


def test_movielens_members_are_imported_once_and_can_never_log_in(db):
    assert users_import_movielens(records=[_record(1), _record(2)]) == 2
    assert users_import_movielens(records=[_record(2), _record(3)]) == 1
    imported = User.objects.get(movielens_id=1)
    assert imported.username == "movielens-1" and imported.source == Source.MOVIELENS
    assert not imported.has_usable_password()
    assert (imported.age, imported.gender, imported.occupation) == (30, "F", "writer")


def test_a_movielens_name_taken_by_a_member_stops_the_import_and_says_which(db):
    user_create(username="movielens-7", password="x" * 12, age=40, gender="M", occupation="other")
    with pytest.raises(ValueError, match="movielens-7"):
        users_import_movielens(records=[_record(7)])
    assert not User.objects.filter(movielens_id=7).exists()


def test_a_sign_up_makes_a_member_who_can_log_in(db):
    user = user_create(
        username="Zoë", password="correct horse battery", age=15, gender="F", occupation="student"
    )
    assert user.source == Source.SIGNUP and user.taste_version == 0
    assert authenticate(username="zoë", password="correct horse battery") == user


def test_a_taken_name_in_any_case_is_refused(member):
    with pytest.raises(UsernameTaken):
        user_create(username="ALICE", password="x" * 12, age=30, gender="F", occupation="other")
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_new_demographics_make_cached_lists_stale(member):
    user_update_demographics(user=member, age=68, gender="M", occupation="retired")
    member.refresh_from_db()
    assert (member.age, member.gender, member.occupation) == (68, "M", "retired")
    assert member.taste_version == 1


def test_a_token_is_readable_once_stored_as_a_hash_and_finds_its_member(member):
    token = api_token_create(user=member)
    record = ApiToken.objects.get()
    assert token.startswith("reel_") and token not in (record.key_hash, record.prefix)
    assert token.startswith(record.prefix)
    assert api_token_user(token=token) == member
    assert api_token_user(token="reel_" + "x" * 43) is None
    assert api_token_user(token="not even shaped like one") is None


def test_expired_tokens_are_neither_listed_nor_accepted(member, settings):
    token = api_token_create(user=member)
    ApiToken.objects.update(created_at=ApiToken.objects.get().created_at - timedelta(days=91))
    settings.API_TOKEN_DAYS = 90
    assert api_token_user(token=token) is None
    assert list(api_tokens_of(user=member)) == []


def test_a_member_revokes_only_their_own_tokens(member, django_user_model):
    other = django_user_model.objects.create_user(username="bob", password="x" * 12)
    mine, theirs = api_token_create(user=member), api_token_create(user=other)
    their_id = ApiToken.objects.get(user=other).pk
    assert api_token_revoke(user=member, token_id=their_id) is False
    assert api_token_user(token=theirs) == other
    assert api_token_revoke(user=member, token_id=ApiToken.objects.get(user=member).pk)
    assert api_token_user(token=mine) is None


def test_deleting_a_member_takes_their_tokens(member):
    token = api_token_create(user=member)
    user_delete(user=member)
    assert api_token_user(token=token) is None
    assert not User.objects.filter(username="alice").exists()


def test_the_token_lookup_builds_the_member_as_the_orm_would(member):
    from accounts.services import api_token_user

    found = api_token_user(token=api_token_create(user=member))
    expected = type(member).objects.get(pk=member.pk)
    for field in type(member)._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    assert found.date_joined.tzinfo is not None and found.is_active is True
