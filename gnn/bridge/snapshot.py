"""The Django side of the model: a consistent snapshot of the database as arrays,
and the bipartite graph built from it.

Only this module and gnn.bridge.engine / gnn.bridge.pipeline touch the ORM.
"""

from __future__ import annotations

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from accounts.models import User
from catalog.models import Genre, Movie
from gnn.ml.data import Dataset, Movies, Ratings, Users
from gnn.ml.features import GENRE_COUNT
from ratings.selectors import rating_rows_in_time_order


def load_movies(*, visible_only: bool = True) -> Movies:
    movies = Movie.objects.visible() if visible_only else Movie.objects.all()
    rows = list(movies.order_by("pk").values_list("pk", "year"))
    ids = np.array([pk for pk, _ in rows], dtype=np.int64)
    # MovieLens' genres, and any a curator added since: a column each.
    added = Genre.objects.values_list("position", flat=True)
    positions = sorted(set(range(GENRE_COUNT)) | set(added))
    column = {p: i for i, p in enumerate(positions)}
    genres = np.zeros((len(rows), len(positions)), dtype=np.float32)
    row_of = {pk: i for i, pk in enumerate(ids.tolist())}
    through = Movie.genres.through.objects.filter(movie_id__in=row_of).values_list(
        "movie_id", "genre__position"
    )
    for movie_id, position in through:
        genres[row_of[movie_id], column[position]] = 1.0
    year = np.array([np.nan if y is None else float(y) for _, y in rows])
    return Movies(ids=ids, year=year, genres=genres, genre_positions=tuple(positions))


def user_table(users) -> Users:
    """Users from (pk, age, gender, occupation, zip_code) rows or User objects."""
    rows = [
        (u.pk, u.age, u.gender, u.occupation, u.zip_code) if isinstance(u, User) else u
        for u in users
    ]
    return Users(
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        age=np.array([np.nan if r[1] is None else float(r[1]) for r in rows]),
        gender=[r[2] or "" for r in rows],
        occupation=[r[3] or "" for r in rows],
        zip_code=[r[4] or "" for r in rows],
    )


def load_snapshot() -> Dataset:
    """Every user with a rating, every visible movie and their ratings, as one
    consistent snapshot: a REPEATABLE READ transaction on PostgreSQL; on
    SQLite an IMMEDIATE transaction, so rating writes wait (on the busy
    timeout) for the fraction of a second the reads take."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            # Inside someone else's transaction (tests), that one's snapshot rules.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        taken_at = timezone.now()
        movies = load_movies()
        movie_row = np.full(int(movies.ids.max(initial=0)) + 1, -1, dtype=np.int64)
        movie_row[movies.ids] = np.arange(len(movies))
        # Ordered by time: the position of a rating is its moment, which is all
        # the training curriculum needs (a user's earliest ratings first).
        raw = rating_rows_in_time_order()
        # Every member's row, those who rated kept: an IN list of a site's
        # members would pass SQLite's limit on query parameters.
        everyone = user_table(
            User.objects.order_by("pk").values_list("pk", "age", "gender", "occupation", "zip_code")
        )
        users = everyone.take(np.flatnonzero(np.isin(everyone.ids, np.unique(raw[:, 0]))))
    in_catalogue = np.zeros(len(raw), dtype=bool)
    known = raw[:, 1] < len(movie_row)
    in_catalogue[known] = movie_row[raw[known, 1]] >= 0
    raw = raw[in_catalogue]  # ratings of hidden movies are not edges
    ratings = Ratings(
        user=np.searchsorted(users.ids, raw[:, 0]).astype(np.int64),
        movie=movie_row[raw[:, 1]],
        value=raw[:, 2].copy(),
        time=np.arange(len(raw), dtype=np.int64),
    )
    return Dataset(users, movies, ratings, {"snapshot_at": taken_at})


def catalogue_stamp() -> str:
    """Changes whenever curators add, edit, hide or show a movie (one indexed
    aggregate; the count catches bulk updates that leave updated_at alone)."""
    found = Movie.objects.aggregate(
        changed=Max("updated_at"), visible=Count("pk", filter=Q(is_visible=True))
    )
    changed = found["changed"].isoformat() if found["changed"] else "never"
    return f"{changed}/{found['visible']}"
