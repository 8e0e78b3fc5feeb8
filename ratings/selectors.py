import io
from datetime import datetime

import numpy as np
from django.core.cache import cache
from django.db import connection
from django.db.models import Avg, Count, Q, QuerySet

from ratings.models import Dismissal, MemberMark, NotSeen, Rating, WatchlistItem


def ratings_of_movies(*, user, movie_ids) -> dict[int, int]:
    """The member's rating of each listed movie that they rated (one query)."""
    if not user.is_authenticated:
        return {}
    return dict(
        Rating.objects.filter(user=user, movie_id__in=list(movie_ids)).values_list(
            "movie_id", "value"
        )
    )


def rating_history(*, user) -> QuerySet[Rating]:
    return (
        Rating.objects.filter(user=user)
        .select_related("movie")
        .prefetch_related("movie__genres")
        .order_by("-updated_at", "-pk")
    )


def dismissed_movies(*, user) -> QuerySet[Dismissal]:
    return Dismissal.objects.filter(user=user).select_related("movie").order_by("-created_at")


def ratings_of_user(*, user) -> list[tuple[int, int]]:
    """(movie pk, value) of every rating of the member."""
    return list(Rating.objects.filter(user=user).values_list("movie_id", "value"))


def _marked_ids(model: type[MemberMark], user, movie_ids=None) -> set[int]:
    """The movies the member marked so (of ``movie_ids`` only, if given)."""
    if not user.is_authenticated:
        return set()
    marks = model.objects.filter(user=user)
    if movie_ids is not None:
        marks = marks.filter(movie_id__in=list(movie_ids))
    return set(marks.values_list("movie_id", flat=True))


def dismissed_movie_ids(*, user) -> set[int]:
    return _marked_ids(Dismissal, user)


def ratings_written_since(*, since: datetime | None, limit: int | None = None) -> int:
    """Ratings created or changed after ``since`` (all when None), counted up
    to ``limit`` only, so the question "is the threshold reached" stays cheap."""
    ratings = Rating.objects.all()
    if since is not None:
        ratings = ratings.filter(updated_at__gt=since)
    if limit is not None:
        ratings = ratings.order_by()[:limit]
    return ratings.count()


def rating_rows_in_time_order(
    block_rows: int = 500_000, block_bytes: int = 32 * 1024 * 1024
) -> np.ndarray:
    """Every rating as (user pk, movie pk, value) rows, oldest first (ties by pk):
    the model's snapshot reads them in one query, in blocks straight into
    arrays. On PostgreSQL through COPY, parsed by pandas' C parser (no Python
    object per rating); elsewhere a block of rows at a time."""
    query = Rating.objects.order_by("created_at", "pk").values_list("user_id", "movie_id", "value")
    sql, params = query.query.sql_with_params()
    parts = [np.empty((0, 3), dtype=np.int64)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            parts += _copied_blocks(cursor.cursor, sql, params, block_bytes)
        else:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(block_rows):
                parts.append(np.array(rows, dtype=np.int64))
    return np.concatenate(parts)


def _copied_blocks(cursor, sql: str, params, block_bytes: int):
    import pandas as pd

    def parse(data: bytes) -> np.ndarray:
        frame = pd.read_csv(io.BytesIO(data), sep="\t", header=None, dtype=np.int64, engine="c")
        return frame.to_numpy().reshape(-1, 3)

    pending = bytearray()
    with cursor.copy(f"COPY ({sql}) TO STDOUT", params or None) as copy:
        for data in copy:
            pending += data
            if len(pending) >= block_bytes:
                cut = pending.rfind(b"\n") + 1
                yield parse(bytes(pending[:cut]))
                del pending[:cut]
    if pending:
        yield parse(bytes(pending))


def not_seen_movie_ids(*, user) -> set[int]:
    return _marked_ids(NotSeen, user)


def watchlist_of(*, user) -> QuerySet[WatchlistItem]:
    """The member's watchlist, newest first, hidden movies left out."""
    return (
        WatchlistItem.objects.filter(user=user, movie__is_visible=True)
        .select_related("movie")
        .prefetch_related("movie__genres")
        .order_by("-created_at", "-pk")
    )


def watchlist_movie_ids(*, user, movie_ids=None) -> set[int]:
    """The movies on the member's watchlist (of ``movie_ids`` only, if given)."""
    return _marked_ids(WatchlistItem, user, movie_ids)


def member_ratings_data(*, user) -> dict[str, list[dict]]:
    """Everything the ratings app holds about a member, as plain data (their
    data download): ratings, dismissals, watchlist, "haven't seen" answers."""

    def movie(row) -> dict:
        return {"movie_id": row.movie_id, "title": row.movie.title}

    def stamp(moment) -> str:
        return moment.isoformat()

    def marks(model: type[MemberMark]) -> list[dict]:
        rows = model.objects.filter(user=user).select_related("movie").order_by("pk")
        return [{**movie(m), "created_at": stamp(m.created_at)} for m in rows]

    return {
        "ratings": [
            {**movie(r), "value": r.value, "created_at": stamp(r.created_at),
             "updated_at": stamp(r.updated_at)}
            for r in Rating.objects.filter(user=user).select_related("movie").order_by("pk")
        ],
        "dismissals": marks(Dismissal),
        "watchlist": marks(WatchlistItem),
        "not_seen": marks(NotSeen),
    }  # fmt: skip


def taste_summary(*, user, top_genres: int = 5) -> dict:
    """The member's rating histogram (value, count, share %) from 5 stars
    down, and their favourite genres: the most liked (4-5 stars), with the
    member's mean rating of each."""
    counts = dict(
        Rating.objects.filter(user=user)
        .order_by()
        .values_list("value")
        .annotate(n=Count("pk"))
        .values_list("value", "n")
    )
    total = sum(counts.values())
    histogram = [
        (value, counts.get(value, 0), 100 * counts.get(value, 0) / max(total, 1))
        for value in range(Rating.MAX_VALUE, Rating.MIN_VALUE - 1, -1)
    ]
    genres = (
        Rating.objects.filter(user=user)
        .exclude(movie__genres=None)
        .order_by()
        .values("movie__genres__name")
        .annotate(liked=Count("pk", filter=Q(value__gte=4)), rated=Count("pk"), mean=Avg("value"))
        .filter(liked__gt=0)
        .order_by("-liked", "-mean", "movie__genres__name")[:top_genres]
    )
    favourites = [
        {"name": g["movie__genres__name"], "liked": g["liked"], "rated": g["rated"],
         "mean": g["mean"]}
        for g in genres
    ]  # fmt: skip
    return {"total": total, "histogram": histogram, "favourite_genres": favourites}


def site_rating_stats() -> dict:
    """Every member's ratings: how many, their mean, their distribution, and
    the same by genre (kept a minute: it reads every rating)."""
    cached = cache.get("ratings:site-stats")
    if cached is not None:
        return cached
    overall = Rating.objects.aggregate(count=Count("pk"), mean=Avg("value"))
    distribution = dict(
        Rating.objects.order_by()
        .values_list("value")
        .annotate(n=Count("pk"))
        .values_list("value", "n")
    )
    genres = (
        Rating.objects.order_by()
        .values("movie__genres__name")
        .annotate(count=Count("pk"), mean=Avg("value"))
        .exclude(movie__genres__name=None)
        .order_by("movie__genres__name")
    )
    result = {
        "count": overall["count"],
        "mean": round(overall["mean"], 4) if overall["mean"] is not None else None,
        "distribution": {str(v): distribution.get(v, 0) for v in range(1, 6)},
        "genres": [
            {"genre": g["movie__genres__name"], "count": g["count"], "mean": round(g["mean"], 4)}
            for g in genres
        ],
    }
    cache.set("ratings:site-stats", result, 60)
    return result
