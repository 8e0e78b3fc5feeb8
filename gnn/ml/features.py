"""Model inputs from demographics and movie facts, with a JSON state.

The state (``preprocessor.json`` beside the weights; no pickle) holds the
scaling fitted on the training data and the vocabularies. Unknown values at
serving time never raise: an unknown gender or occupation is an all-zero
one-hot, a missing age or year is the training mean (a missing year also sets
a flag), a zip code that is not a US one maps to the region "X".
"""

from __future__ import annotations

import math

import numpy as np

from core import vocabularies
from gnn.ml.data import Movies, Users

GENDERS = [value for value, _ in vocabularies.GENDERS]
OCCUPATIONS = [value for value, _ in vocabularies.OCCUPATIONS]
GENRE_COUNT = vocabularies.GENRE_COUNT
ZIP_REGIONS = [str(d) for d in range(10)] + ["X"]
STATE_VERSION = 1


def zip_region(zip_code: str) -> str:
    """First digit of a US zip code (ten regions); anything else is "X"."""
    text = str(zip_code or "").strip()
    return text[0] if text[:1].isdigit() else "X"


def _std(values: np.ndarray) -> float:
    std = float(np.nanstd(values, ddof=1)) if np.isfinite(values).sum() > 1 else 1.0
    return std if std > 1e-6 and math.isfinite(std) else 1.0


def _mean(values: np.ndarray, fallback: float) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else fallback


DEFAULT_AGE = 30.0  # when no member gave an age (MovieLens 10M and later give none)


def mean_age(ages: np.ndarray) -> float:
    """The members' mean age, DEFAULT_AGE when none is known."""
    return _mean(np.asarray(ages, dtype=np.float64), DEFAULT_AGE)


class Preprocessor:
    def __init__(self, state: dict):
        if state.get("state_version") != STATE_VERSION:
            raise ValueError(
                f"preprocessor state version {state.get('state_version')!r} is not {STATE_VERSION}"
            )
        self.state = state
        self._movie_rows = {int(m): i for i, m in enumerate(state["movie_ids"])}
        # States written before genres could be added know MovieLens' 19.
        positions = state.get("genre_positions", range(GENRE_COUNT))
        self._genre_column = {int(p): i for i, p in enumerate(positions)}

    @classmethod
    def fit(cls, users: Users, movies: Movies, *, use_zip: bool) -> Preprocessor:
        return cls(
            {
                "state_version": STATE_VERSION,
                "age_mean": mean_age(users.age),
                "age_std": _std(users.age),
                "year_mean": _mean(movies.year, 1990.0),
                "year_std": _std(movies.year),
                "genders": GENDERS,
                "occupations": OCCUPATIONS,
                "zip_regions": ZIP_REGIONS if use_zip else [],
                # Rows of the movie id embedding; movies added later have none.
                "movie_ids": [int(m) for m in movies.ids],
                # The genres known at fit time (catalogue positions): one a
                # curator adds later is ignored until the next training learns it.
                "genre_positions": [int(p) for p in movies.positions],
            }
        )

    @property
    def n_user_features(self) -> int:
        s = self.state
        return 1 + len(s["genders"]) + len(s["occupations"]) + len(s["zip_regions"])

    @property
    def n_movie_features(self) -> int:
        return 2 + self.genre_count

    @property
    def genre_count(self) -> int:
        return len(self._genre_column)

    @property
    def n_known_movies(self) -> int:
        return len(self._movie_rows)

    def user_features(self, users: Users) -> np.ndarray:
        """[users, n_user_features] float32."""
        s = self.state
        age = np.where(np.isnan(users.age), s["age_mean"], users.age)
        columns = [((age - s["age_mean"]) / s["age_std"])[:, None]]
        regions = [zip_region(z) for z in users.zip_code] if s["zip_regions"] else []
        for values, vocabulary in (
            (users.gender, s["genders"]),
            (users.occupation, s["occupations"]),
            (regions, s["zip_regions"]),
        ):
            if not vocabulary:
                continue
            index = {v: i for i, v in enumerate(vocabulary)}
            onehot = np.zeros((len(users), len(vocabulary)))
            for row, value in enumerate(values):
                if value in index:
                    onehot[row, index[value]] = 1.0
            columns.append(onehot)
        return np.hstack(columns).astype(np.float32)

    def movie_features(self, movies: Movies) -> np.ndarray:
        """[movies, n_movie_features] float32."""
        s = self.state
        missing = np.isnan(movies.year)
        scaled = np.where(missing, 0.0, (movies.year - s["year_mean"]) / s["year_std"])
        genres = np.zeros((len(movies), self.genre_count), dtype=np.float32)
        for source, position in enumerate(movies.positions):
            column = self._genre_column.get(position)
            if column is not None:
                genres[:, column] = movies.genres[:, source]
        return np.hstack([scaled[:, None], missing[:, None], genres]).astype(np.float32)

    def movie_rows(self, movie_ids) -> np.ndarray:
        """Embedding row per movie id; -1 for movies the model never saw."""
        return np.array([self._movie_rows.get(int(m), -1) for m in movie_ids], dtype=np.int64)
