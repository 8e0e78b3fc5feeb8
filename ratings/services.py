"""Writes to ratings, dismissals and "haven't seen it" answers. Every change goes through here."""

import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from accounts.services import user_taste_changed
from catalog.models import Movie
from core import metrics
from core.errors import FieldError
from events.models import OutcomeKind
from events.services import outcome_record
from ratings.models import Dismissal, MemberMark, NotSeen, Rating, WatchlistItem
from ratings.signals import rating_committed


class RatingError(FieldError):
    """Bad input for a rating write."""


@dataclass(frozen=True)
class RatingWrite:
    rating: Rating
    created: bool


def parse_value(raw) -> int:
    """A rating value from a form, query string or JSON; RatingError otherwise."""
    if isinstance(raw, bool):
        raise RatingError("value", "A rating must be a whole number from 1 to 5.")
    try:
        value = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
    except (TypeError, ValueError):
        value = None
    if value is None or not Rating.MIN_VALUE <= value <= Rating.MAX_VALUE:
        raise RatingError("value", "A rating must be a whole number from 1 to 5.")
    return value


class MemberGone(Exception):
    """The member's account was deleted while they wrote (the write was rolled
    back whole: nothing of it stays)."""

    message = "Your account no longer exists: nothing was saved."


@contextlib.contextmanager
def _members_write(user):
    """A transaction writing for ``user``; MemberGone when it failed because
    the member was deleted meanwhile (their row's foreign keys are checked at
    commit, after a concurrent deletion committed first)."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        if not User.objects.filter(pk=user.pk).exists():
            raise MemberGone() from None
        raise


def _announce_commit() -> None:
    # Receivers (gnn counts toward retraining) must never fail the write,
    # which is already committed.
    for receiver, result in rating_committed.send_robust(sender=Rating):
        if isinstance(result, Exception):
            logging.getLogger("ratings").error(
                "%s failed after a rating write", receiver, exc_info=result
            )


def _lock_pair(*, user_id: int, movie_id: int) -> None:
    """Serialise the writes to one member's rating of one movie.

    Then the old value read next is the one the write replaces, so the movie's
    counts move by exact deltas. PostgreSQL: a transaction-scoped advisory
    lock on the pair, so writes by other members to the same (popular) movie
    do not queue behind it; that movie's row is locked only from its counter
    update, the last statement, to the commit. SQLite: the IMMEDIATE
    transaction already holds the database's write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Two int4 keys; a collision would only make two pairs take turns.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [user_id % 2**31, movie_id % 2**31]
            )
    elif connection.vendor != "sqlite":
        Movie.objects.select_for_update().filter(pk=movie_id).order_by().values_list("pk").first()


def rating_set(*, user, movie: Movie, value) -> RatingWrite:
    """Create or change the member's rating of a movie (one row per pair).

    One upsert statement (INSERT ... ON CONFLICT DO UPDATE), so concurrent
    writes for the same pair never fail and never duplicate: the last one
    to commit wins.
    """
    value = parse_value(value)
    if not movie.is_visible:
        raise RatingError("movie", "There is no such movie.")
    with _members_write(user):
        _lock_pair(user_id=user.pk, movie_id=movie.pk)
        # Stamped after the lock: for one pair, updated_at orders the writes
        # as they commit, so the newest stamp is the value that stays.
        now = timezone.now()
        write = _rating_write_postgresql if connection.vendor == "postgresql" else _rating_write
        rating, old = write(user=user, movie=movie, value=value, now=now)
        existed = old is not None
        transaction.on_commit(lambda: metrics.rating_written("updated" if existed else "created"))
        transaction.on_commit(_announce_commit)
        _outcome_on_commit(user, movie, OutcomeKind.RATING, value)
    if rating.pk is None:  # backends that return no id for an upsert
        rating = Rating.objects.get(user=user, movie=movie)
    return RatingWrite(rating=rating, created=not existed)


def _rating_write(*, user, movie: Movie, value: int, now) -> tuple[Rating, int | None]:
    before = Rating.objects.filter(user=user, movie=movie).values_list("value", "created_at")
    old, created_at = before.first() or (None, now)
    (rating,) = Rating.objects.bulk_create(
        [Rating(user=user, movie=movie, value=value, created_at=created_at, updated_at=now)],
        update_conflicts=True,
        unique_fields=["user", "movie"],
        update_fields=["value", "updated_at"],
    )
    user_taste_changed(user_id=user.pk)
    WatchlistItem.objects.filter(user=user, movie=movie).delete()  # watched now
    # Last: it locks the movie's row until the commit (see _lock_pair).
    movie_stats_add(movie_id=movie.pk, old=old, new=value)
    return rating, old


def _rating_write_postgresql(*, user, movie: Movie, value: int, now) -> tuple[Rating, int | None]:
    """What the other backends do in five statements (read the old value,
    upsert, the member's taste version, the watchlist, the movie's counts),
    in one: each
    statement is a round trip, and the writes were short of their latency
    target under load (benchmarks/loadtest.py --database postgres). It runs
    after the pair's lock, so its snapshot holds the value it replaces."""
    with connection.cursor() as cursor:
        cursor.execute(
            _RATING_WRITE_SQL,
            {"user": user.pk, "movie": movie.pk, "value": value, "now": now},
        )
        rating_id, created_at, old = cursor.fetchone()
    rating = Rating(
        pk=rating_id, user=user, movie=movie, value=value, created_at=created_at, updated_at=now
    )
    rating._state.adding = False
    return rating, old


# The movie's counts move last: its row stays locked from there to the commit.
_RATING_WRITE_SQL = """
WITH old AS (
    SELECT value, created_at FROM ratings_rating
    WHERE user_id = %(user)s AND movie_id = %(movie)s
), written AS (
    INSERT INTO ratings_rating (user_id, movie_id, value, created_at, updated_at)
    VALUES (%(user)s, %(movie)s, %(value)s,
            COALESCE((SELECT created_at FROM old), %(now)s), %(now)s)
    ON CONFLICT (user_id, movie_id)
    DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
    RETURNING id, created_at
), taste AS (
    UPDATE accounts_user SET taste_version = taste_version + 1 WHERE id = %(user)s
), watched AS (
    DELETE FROM ratings_watchlistitem WHERE user_id = %(user)s AND movie_id = %(movie)s
), counts AS (
    UPDATE catalog_movie SET
        rating_count = rating_count + (CASE WHEN (SELECT value FROM old) IS NULL THEN 1 ELSE 0 END),
        rating_sum = rating_sum + %(value)s - COALESCE((SELECT value FROM old), 0),
        liked_count = liked_count + (CASE WHEN %(value)s >= 4 THEN 1 ELSE 0 END)
            - (CASE WHEN COALESCE((SELECT value FROM old), 0) >= 4 THEN 1 ELSE 0 END)
    WHERE id = %(movie)s
)
SELECT written.id, written.created_at, (SELECT value FROM old) FROM written
"""


def rating_remove(*, user, movie: Movie) -> bool:
    with _members_write(user):
        _lock_pair(user_id=user.pk, movie_id=movie.pk)
        old = Rating.objects.filter(user=user, movie=movie).values_list("value", flat=True).first()
        deleted, _ = Rating.objects.filter(user=user, movie=movie).delete()
        if deleted:
            user_taste_changed(user_id=user.pk)
            movie_stats_add(movie_id=movie.pk, old=old, new=None)
            transaction.on_commit(lambda: metrics.rating_written("removed"))
    return bool(deleted)


def rating_move(*, rating: Rating, user, movie: Movie, value) -> RatingWrite:
    """A curator's edit of a rating row: to another value, and possibly to
    another member or movie (the old pair's rating goes, the new one's is set)."""
    with transaction.atomic():
        if (rating.user_id, rating.movie_id) != (user.pk, movie.pk):
            rating_remove(user=rating.user, movie=rating.movie)
        return rating_set(user=user, movie=movie, value=value)


def ratings_of_deleted_movie_prepare(*, movie_id: int) -> list[int]:
    """Before a movie goes: who rated or dismissed it (their taste versions move)."""
    raters = Rating.objects.filter(movie_id=movie_id).values_list("user_id", flat=True)
    dismissers = Dismissal.objects.filter(movie_id=movie_id).values_list("user_id", flat=True)
    return sorted(set(raters) | set(dismissers))


def _outcome_on_commit(user, movie: Movie, kind: str, value: int | None = None) -> None:
    """An outcome event once the write is acknowledged (committed): credited
    to the list that showed the movie, if one did lately (events.services)."""
    transaction.on_commit(
        lambda: outcome_record(user=user, movie_id=movie.pk, kind=kind, value=value)
    )


def _mark(
    model: type[MemberMark], *, user, movie: Movie, taste: bool, outcome: str | None = None
) -> MemberMark:
    """The member's mark of ``model`` on the movie, made once. ``taste``: the
    mark changes what they are recommended, so their taste version moves
    (and their cached lists go) when it is new. ``outcome``: the event a new
    mark records."""
    with _members_write(user):
        mark, created = model.objects.get_or_create(user=user, movie=movie)
        if created and taste:
            user_taste_changed(user_id=user.pk)
        if created and outcome:
            _outcome_on_commit(user, movie, outcome)
    return mark


def _unmark(model: type[MemberMark], *, user, movie: Movie, taste: bool) -> bool:
    """Take the mark back; whether there was one."""
    with transaction.atomic():
        deleted, _ = model.objects.filter(user=user, movie=movie).delete()
        if deleted and taste:
            user_taste_changed(user_id=user.pk)
    return bool(deleted)


def dismissal_add(*, user, movie: Movie) -> Dismissal:
    return _mark(Dismissal, user=user, movie=movie, taste=True, outcome=OutcomeKind.DISMISS)


def dismissal_remove(*, user, movie: Movie) -> bool:
    return _unmark(Dismissal, user=user, movie=movie, taste=True)


def watchlist_add(*, user, movie: Movie) -> WatchlistItem:
    """Want to watch: on the member's watchlist, and out of their
    recommendations (their taste version moves, so cached lists go)."""
    if not movie.is_visible:
        raise RatingError("movie", "There is no such movie.")
    return _mark(WatchlistItem, user=user, movie=movie, taste=True, outcome=OutcomeKind.WATCHLIST)


def watchlist_remove(*, user, movie: Movie) -> bool:
    return _unmark(WatchlistItem, user=user, movie=movie, taste=True)


def not_seen_add(*, user, movie: Movie) -> NotSeen:
    """The member has not seen this movie: it is not asked again. Their taste
    version stays: recommendations do not read these answers. A movie they
    rated they have seen: RatingError."""
    if Rating.objects.filter(user=user, movie=movie).exists():
        raise RatingError("movie", "You rated this movie: you have seen it.")
    return _mark(NotSeen, user=user, movie=movie, taste=False)


def movielens_rating_pairs() -> np.ndarray:
    """(user pk, movie pk) of every rating by an imported MovieLens member."""
    return np.array(
        Rating.objects.filter(user__movielens_id__isnull=False).values_list("user_id", "movie_id"),
        dtype=np.int64,
    ).reshape(-1, 2)


def ratings_import_movielens(
    *,
    rows: np.ndarray,
    user_ids: dict[int, int],
    movie_ids: dict[int, int],
    progress: Callable[[int], None] | None = None,
    batch_size: int = 50_000,
    present: np.ndarray | None = None,
) -> int:
    """Insert MovieLens ratings (columns: user, movie, rating, unix time) not yet present.

    Ids are MovieLens ids, mapped to ours through ``user_ids``/``movie_ids``.
    A pair that already has a rating is left alone, so a member's later
    change to an imported rating survives a re-import.

    Arrays all the way to the database: the ids are mapped, the pairs already
    present dropped and the times formatted with numpy; the rows go in chunks
    of ``batch_size`` by COPY on PostgreSQL and by executemany elsewhere, in
    the caller's transaction (no model object per rating). ``present``: the
    imported pairs (movielens_rating_pairs), read once by a caller importing
    block by block.
    """
    if not len(rows):
        return 0
    users = _lookup(user_ids, rows[:, 0])
    movies = _lookup(movie_ids, rows[:, 1])
    width = int(max(movie_ids.values())) + 1
    if present is None:
        present = movielens_rating_pairs()
    new = ~np.isin(users * width + movies, present[:, 0] * width + present[:, 1])
    users, movies, values, stamps = users[new], movies[new], rows[new, 2], rows[new, 3]
    if not len(users):
        return 0
    # In (user, movie) order the unique index and the per-member index grow
    # at their ends instead of being rewritten all over: several times faster.
    order = np.lexsort((movies, users))
    users, movies, values, stamps = users[order], movies[order], values[order], stamps[order]
    # Aware UTC moments as the backends store them.
    moments = np.datetime_as_string(stamps.astype("datetime64[s]"), unit="s")
    moments = np.char.replace(moments, "T", " ")
    table = Rating._meta.db_table
    columns = [Rating._meta.get_field(f).column for f in ("user", "movie", "value")]
    columns += ["created_at", "updated_at"]
    created = 0
    with connection.cursor() as cursor:
        for first in range(0, len(users), batch_size):
            part = slice(first, first + batch_size)
            chunk = zip(
                users[part].tolist(), movies[part].tolist(), values[part].tolist(),
                moments[part].tolist(), strict=True,
            )  # fmt: skip
            if connection.vendor == "postgresql":
                text = "".join(f"{u}\t{m}\t{v}\t{t}+00\t{t}+00\n" for u, m, v, t in chunk)
                with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    copy.write(text)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                    [(u, m, v, t, t) for u, m, v, t in chunk],
                )
            created += len(users[part])
            if progress:
                progress(created)
    return created


# SQLite's page cache while ratings are imported (KiB): the default 2 MB
# writes an index page out and reads it back for nearly every row once the
# indexes outgrow it.
IMPORT_PAGE_CACHE_KIB = 256 * 1024


@contextlib.contextmanager
def ratings_bulk_import():
    """Around a large import, inside the caller's transaction. When the
    ratings table is empty (a first import) its secondary indexes are dropped
    and built once the rows are in: three of them (by movie, by creation, by
    update) are in no order the rows arrive in, and keeping them up row by row
    is most of a large import's time. The unique (member, movie) index stays,
    so a duplicate is refused as it arrives. DDL is transactional on both
    backends: a failed import leaves the indexes as they were. On SQLite the
    page cache is raised for the duration too."""
    table = Rating._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} LIMIT 1")
        empty = cursor.fetchone() is None
        indexes = _secondary_indexes(cursor, table) if empty else []
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        with _large_page_cache(cursor):
            yield
            if indexes and connection.vendor == "postgresql":
                # The rows' deferred foreign-key checks run now: PostgreSQL
                # builds no index on a table with checks still pending.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for _, definition in indexes:
                cursor.execute(definition)


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's indexes that back no
    constraint (the primary key and the unique pair stay)."""
    if connection.vendor == "sqlite":
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
            "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%%'",
            [table],
        )
    else:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexdef NOT LIKE 'CREATE UNIQUE%%' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
    return [(name, definition) for name, definition in cursor.fetchall()]


@contextlib.contextmanager
def _large_page_cache(cursor):
    if connection.vendor != "sqlite":
        yield
        return
    cursor.execute("PRAGMA cache_size")
    before = cursor.fetchone()[0]
    cursor.execute(f"PRAGMA cache_size = -{IMPORT_PAGE_CACHE_KIB}")
    try:
        yield
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _lookup(mapping: dict[int, int], keys: np.ndarray) -> np.ndarray:
    """mapping[k] for every k of ``keys``, as an array (KeyError for an unknown k)."""
    source = np.fromiter(mapping.keys(), dtype=np.int64, count=len(mapping))
    target = np.fromiter(mapping.values(), dtype=np.int64, count=len(mapping))
    order = np.argsort(source)
    source, target = source[order], target[order]
    where = np.searchsorted(source, keys)
    where = np.clip(where, 0, len(source) - 1)
    if len(keys) and not (source[where] == keys).all():
        missing = keys[source[where] != keys][0]
        raise KeyError(f"unknown MovieLens id {int(missing)}")
    return target[where]


# --- The movies' rating statistics -------------------------------------------


def movie_stats_add(*, movie_id: int, old: int | None, new: int | None) -> None:
    """Move a movie's counts by one rating going from ``old`` to ``new`` (None:
    no rating). Exact because the ratings service serialises the writes to
    one (member, movie) pair, so ``old`` is the value being replaced; the
    UPDATE adds in place, so writes to other pairs never overwrite it."""
    count = (new is not None) - (old is not None)
    total = (new or 0) - (old or 0)
    liked = (new is not None and new >= 4) - (old is not None and old >= 4)
    if count or total or liked:
        Movie.objects.filter(pk=movie_id).update(
            rating_count=F("rating_count") + count,
            rating_sum=F("rating_sum") + total,
            liked_count=F("liked_count") + liked,
        )


def movie_stats_refresh(*, movie_ids: Iterable[int] | None = None) -> None:
    """Recompute the denormalised rating counts of some movies (all by default).

    Counting from the ratings themselves, for the import, which writes
    ratings in bulk.
    """
    ratings = Rating.objects.filter(movie=OuterRef("pk")).order_by().values("movie")

    def aggregate(expression):
        return Coalesce(
            Subquery(ratings.annotate(x=expression).values("x"), output_field=IntegerField()),
            Value(0),
        )

    movies = Movie.objects.all()
    if movie_ids is not None:
        movies = movies.filter(pk__in=list(movie_ids))
    movies.update(
        rating_count=aggregate(Count("pk")),
        rating_sum=aggregate(Sum("value")),
        liked_count=aggregate(Count("pk", filter=Q(value__gte=4))),
    )
