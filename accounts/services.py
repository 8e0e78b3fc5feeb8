import functools
import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import ApiToken, Source, User

TOKEN_PREFIX = "reel_"


def movielens_username(movielens_id: int) -> str:
    return f"movielens-{movielens_id}"


def users_import_movielens(*, records: Iterable) -> int:
    """Create the MovieLens users not yet imported; returns how many were new.

    They can never log in (unusable password); they exist so that their
    ratings train the model like anyone else's.
    """
    existing = set(
        User.objects.filter(movielens_id__isnull=False).values_list("movielens_id", flat=True)
    )
    new = [record for record in records if record.movielens_id not in existing]
    if not new:
        return 0
    usernames = {movielens_username(record.movielens_id) for record in new}
    taken = set(User.objects.filter(username__in=usernames).values_list("username", flat=True))
    if taken:
        raise ValueError(
            f"usernames reserved for MovieLens users are taken: {', '.join(sorted(taken)[:5])}"
        )
    unusable = make_password(None)
    User.objects.bulk_create(
        [
            User(
                username=movielens_username(record.movielens_id),
                password=unusable,
                age=record.age,
                gender=record.gender,
                occupation=record.occupation,
                zip_code=record.zip_code,
                source=Source.MOVIELENS,
                movielens_id=record.movielens_id,
            )
            for record in new
        ],
        batch_size=1000,
    )
    return len(new)


def movielens_user_ids() -> dict[int, int]:
    """MovieLens user id -> our primary key."""
    return dict(User.objects.filter(movielens_id__isnull=False).values_list("movielens_id", "pk"))


def user_taste_changed(*, user_id: int) -> None:
    """Record that the member's ratings or dismissals changed (see User.taste_version)."""
    User.objects.filter(pk=user_id).update(taste_version=F("taste_version") + 1)


def user_create(
    *,
    username: str,
    password: str,
    age: int,
    gender: str,
    occupation: str,
    zip_code: str = "",
    email: str = "",
) -> User:
    """A new member from the sign-up form or the API (both validate first).

    Raises UsernameTaken when the name (in any case) is taken, also by a
    sign-up that raced past the form's own check a moment before."""
    try:
        with transaction.atomic():
            return User.objects.create_user(
                username=username,
                password=password,
                email=email,
                age=age,
                gender=gender,
                occupation=occupation,
                zip_code=zip_code,
                source=Source.SIGNUP,
            )
    except IntegrityError:
        if User.objects.filter(username__iexact=username).exists():
            raise UsernameTaken(username) from None
        raise


class UsernameTaken(Exception):
    message = "A user with that username already exists."

    def __init__(self, username: str):
        self.username = username
        super().__init__(self.message)


def user_update_demographics(
    *, user: User, age: int, gender: str, occupation: str, zip_code: str = ""
) -> User:
    user.age, user.gender, user.occupation, user.zip_code = age, gender, occupation, zip_code
    user.save(update_fields=["age", "gender", "occupation", "zip_code"])
    # Demographics are model inputs: cached recommendations are stale.
    user_taste_changed(user_id=user.pk)
    return user


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TooManyTokens(Exception):
    def __init__(self, limit: int):
        self.message = (
            f"You have {limit} live API tokens, the most a member may hold: "
            "revoke one you no longer use, then make a new one."
        )
        super().__init__(self.message)


def api_token_create(*, user: User) -> str:
    """A new API token for the member; the only time the token is readable.
    TooManyTokens when they hold API_TOKENS_PER_MEMBER live ones already
    (counted under a lock on the member, so two at once cannot pass it)."""
    limit = settings.API_TOKENS_PER_MEMBER
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()
        if api_tokens_of(user=user).count() >= limit:
            raise TooManyTokens(limit)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        ApiToken.objects.create(user=user, key_hash=token_hash(token), prefix=token[:12])
    return token


def api_tokens_delete_expired() -> int:
    """Delete the rows of expired tokens (they stopped working when they
    expired); how many went. Celery beat runs it daily."""
    deleted, _ = ApiToken.objects.filter(created_at__lt=api_token_expiry_cutoff()).delete()
    return deleted


def api_tokens_record(*, user: User) -> list[dict]:
    """Every token row of the member, expired ones too, without secrets (the
    data download)."""
    cutoff = api_token_expiry_cutoff()
    return [
        {
            "prefix": t.prefix,
            "created_at": t.created_at.isoformat(),
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
            "expired": t.created_at < cutoff,
        }
        for t in ApiToken.objects.filter(user=user).order_by("created_at", "pk")
    ]


def api_token_expiry_cutoff():
    """Tokens created before this moment have expired (API_TOKEN_DAYS)."""
    return timezone.now() - timedelta(days=settings.API_TOKEN_DAYS)


def _token_shaped(token: str) -> bool:
    return bool(token) and token.startswith(TOKEN_PREFIX) and len(token) <= 200


def api_tokens_of(*, user: User):
    """The member's live tokens, newest first."""
    return ApiToken.objects.filter(user=user, created_at__gte=api_token_expiry_cutoff()).order_by(
        "-created_at", "-pk"
    )


def api_token_revoke(*, user: User, token_id: int) -> bool:
    """Revoke one of the member's tokens; False if they have no such token."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return bool(deleted)


def api_tokens_revoke_all(*, user_id: int) -> int:
    deleted, _ = ApiToken.objects.filter(user_id=user_id).delete()
    return deleted


def api_token_user(*, token: str) -> User | None:
    """The active member a live token belongs to, or None: one query, since
    every API request pays for it."""
    if not _token_shaped(token):
        return None
    now = timezone.now()
    sql, names, converters = _token_user_query(connection.alias)
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [now - TOKEN_USE_RECORDED_EVERY, token_hash(token), api_token_expiry_cutoff()]
        )
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, (functions, column) in converters:
        for convert in functions:
            values[position] = convert(values[position], column, connection)
    user = User.from_db(connection.alias, names, values[: len(names)])
    token_id, stale = values[len(names) :]
    if stale:
        # Recorded at most once a minute: not a write per request.
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
    return user


TOKEN_USE_RECORDED_EVERY = timedelta(seconds=60)


@functools.cache
def _token_user_query(alias: str) -> tuple[str, list[str], list]:
    # Raw SQL with the ORM's own converters, prepared once: compiling the
    # equivalent ORM query (a join, select_related, two filters) and building
    # a model through a raw queryset took four fifths of the lookup's time,
    # and the lookup runs on every API request (benchmarks/api_overhead.py).
    quote = connection.ops.quote_name
    fields = User._meta.concrete_fields
    columns = ", ".join(f"u.{quote(field.column)}" for field in fields)
    sql = (
        f"SELECT {columns}, t.{quote('id')}, "
        f"(t.{quote('last_used_at')} IS NULL OR t.{quote('last_used_at')} < %s) "
        f"FROM {quote(ApiToken._meta.db_table)} t "
        f"JOIN {quote(User._meta.db_table)} u ON u.{quote('id')} = t.{quote('user_id')} "
        f"WHERE t.{quote('key_hash')} = %s AND t.{quote('created_at')} >= %s "
        f"AND u.{quote('is_active')}"
    )
    compiler = connection.ops.compiler("SQLCompiler")(User.objects.none().query, connection, alias)
    converters = compiler.get_converters([field.get_col(User._meta.db_table) for field in fields])
    return sql, [field.attname for field in fields], sorted(converters.items())


def user_delete(*, user: User) -> None:
    """A member and everything of theirs goes; the movies they rated are
    recounted (ratings.receivers), so the next training forgets them."""
    with transaction.atomic():
        user.delete()
