"""The data a model is trained on or served from, as plain arrays.

Built from the database (gnn.bridge.snapshot.load_snapshot) or from GroupLens files
(gnn.ml.benchmark); everything below works on these and never on the ORM.
Users and movies are addressed by row; ``ids`` maps rows to outside ids
(database primary keys, or MovieLens ids in the benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Users:
    ids: np.ndarray  # int64
    age: np.ndarray  # float64, NaN when unknown
    gender: list[str]
    occupation: list[str]
    zip_code: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows) -> Users:
        rows = np.asarray(rows, dtype=np.int64)
        return Users(
            ids=self.ids[rows],
            age=self.age[rows],
            gender=[self.gender[i] for i in rows],
            occupation=[self.occupation[i] for i in rows],
            zip_code=[self.zip_code[i] for i in rows],
        )


@dataclass
class Movies:
    ids: np.ndarray  # int64
    year: np.ndarray  # float64, NaN when unknown
    genres: np.ndarray  # (n, G) float32 multi-hot
    # The genre (its catalogue position) of each column; None: 0..G-1.
    genre_positions: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def positions(self) -> tuple[int, ...]:
        if self.genre_positions is None:
            return tuple(range(self.genres.shape[1]))
        return self.genre_positions


@dataclass
class Ratings:
    user: np.ndarray  # row in Users
    movie: np.ndarray  # row in Movies
    value: np.ndarray  # 1..5
    time: np.ndarray  # sortable moment (unix seconds, or an insertion order)

    def __len__(self) -> int:
        return len(self.user)

    def take(self, mask_or_rows) -> Ratings:
        return Ratings(
            self.user[mask_or_rows],
            self.movie[mask_or_rows],
            self.value[mask_or_rows],
            self.time[mask_or_rows],
        )

    def rank_in_user_history(self) -> np.ndarray:
        """Each rating's position in its user's history: 0 = earliest
        (ties broken by movie row), the order new members rate in."""
        order = np.lexsort((self.movie, self.time, self.user))
        ranks = np.empty(len(order), dtype=np.int64)
        sorted_users = self.user[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_users)) + 1]
        counts = np.diff(np.r_[starts, len(order)])
        ranks[order] = np.arange(len(order)) - np.repeat(starts, counts)
        return ranks


@dataclass
class Dataset:
    users: Users
    movies: Movies
    ratings: Ratings
    meta: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "users": len(self.users),
            "movies": len(self.movies),
            "ratings": len(self.ratings),
        }


def restrict_to_users(dataset: Dataset, rows: np.ndarray) -> Dataset:
    """The dataset with only these users (renumbered 0..n-1) and their ratings."""
    rows = np.asarray(rows, dtype=np.int64)
    new_row = np.full(len(dataset.users), -1, dtype=np.int64)
    new_row[rows] = np.arange(len(rows))
    keep = new_row[dataset.ratings.user] >= 0
    ratings = dataset.ratings.take(keep)
    ratings.user = new_row[ratings.user]
    return Dataset(dataset.users.take(rows), dataset.movies, ratings, dict(dataset.meta))


def remap_users(ratings: Ratings, rows: np.ndarray, n_users: int) -> Ratings:
    """Ratings of the users ``rows`` with user indices renumbered to 0..len(rows)-1."""
    new_row = np.full(n_users, -1, dtype=np.int64)
    new_row[np.asarray(rows, dtype=np.int64)] = np.arange(len(rows))
    keep = new_row[ratings.user] >= 0
    part = ratings.take(keep)
    part.user = new_row[part.user]
    return part


def sample_rows(rows: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """``rows`` (sorted), or a fixed seeded sample of ``limit`` of them:
    beyond a few thousand members figures chosen on them hardly move, and
    each one ranks the whole catalogue at every try."""
    rows = np.asarray(rows)
    if len(rows) <= limit:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))


def unit_hash(keys: np.ndarray, seed: int) -> np.ndarray:
    """A number in [0, 1) per key (splitmix64), the same for the same key and
    seed on every run and whoever else is in the set: a holdout chosen by it
    stays the same as the data grows."""
    with np.errstate(over="ignore"):
        x = np.asarray(keys).astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


# How a new member's first ratings are chosen (the protocols' reveals, and
# the few-shot members of training): each splits ratings into given and rest.


def earliest(ratings: Ratings, k: int) -> tuple[Ratings, Ratings]:
    """Each user's k earliest ratings (by time, then movie), and the rest."""
    first = ratings.rank_in_user_history() < k
    return ratings.take(first), ratings.take(~first)


RANDOM_SEED = 0


def random_k(ratings: Ratings, k: int, seed: int = RANDOM_SEED) -> tuple[Ratings, Ratings]:
    """k of each user's ratings drawn at random, and the rest.

    Seeded per user (by the seed and the user's row), over the user's ratings
    in (time, movie) order: the same ratings come out on every run, whatever
    order the ratings arrive in and whoever else is in the set.
    """
    order = np.lexsort((ratings.movie, ratings.time, ratings.user))
    users = ratings.user[order]
    starts = np.r_[0, np.flatnonzero(np.diff(users)) + 1] if len(users) else np.empty(0, int)
    ends = np.r_[starts[1:], len(users)] if len(users) else np.empty(0, int)
    chosen = np.zeros(len(ratings), dtype=bool)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        rng = np.random.default_rng([seed, int(users[start])])
        picked = rng.permutation(end - start)[:k]
        chosen[order[start + picked]] = True
    return ratings.take(chosen), ratings.take(~chosen)
