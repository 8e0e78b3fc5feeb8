"""The literature's protocols on MovieLens 100K files, independent of the database.

- W (warm): train on the canonical uN.base, test on uN.test;
- C (cold start): a seeded 20% of users held out entirely, the model trained
  on all ratings of the others; held-out users ranked from demographics;
- C+k: the same users with their k earliest ratings revealed at serving time.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from core import movielens
from gnn.ml import protocols
from gnn.ml.data import Dataset, Movies, Ratings, Users, remap_users, restrict_to_users
from gnn.ml.features import GENRE_COUNT
from gnn.ml.network import Config
from gnn.ml.training import train

COLD_SHARE = 0.2
COLD_SEED = 0


def _read_ratings(path: Path) -> np.ndarray:
    return np.loadtxt(path, dtype=np.int64, delimiter="\t", ndmin=2).reshape(-1, 4)


def load_grouplens(directory: Path) -> tuple[Users, Movies, dict[int, int], dict[int, int]]:
    """Users and movies of a GroupLens directory, read by the import's own parser."""
    files = movielens.read_directory(Path(directory))
    people = sorted(movielens.parse_users(files), key=lambda u: u.movielens_id)
    users = Users(
        ids=np.array([u.movielens_id for u in people], dtype=np.int64),
        age=np.array([float(u.age) for u in people]),
        gender=[u.gender for u in people],
        occupation=[u.occupation for u in people],
        zip_code=[u.zip_code for u in people],
    )
    films = sorted(movielens.parse_movies(files), key=lambda m: m.movielens_id)
    genres = np.zeros((len(films), GENRE_COUNT), dtype=np.float32)
    for row, film in enumerate(films):
        genres[row, list(film.genre_positions)] = 1.0
    movies = Movies(
        ids=np.array([m.movielens_id for m in films], dtype=np.int64),
        year=np.array([float("nan") if m.year is None else float(m.year) for m in films]),
        genres=genres,
    )
    user_index = {int(u): i for i, u in enumerate(users.ids)}
    movie_index = {int(m): i for i, m in enumerate(movies.ids)}
    return users, movies, user_index, movie_index


def _ratings(rows: np.ndarray, user_index, movie_index) -> Ratings:
    return Ratings(
        user=np.array([user_index[u] for u in rows[:, 0]], dtype=np.int64),
        movie=np.array([movie_index[m] for m in rows[:, 1]], dtype=np.int64),
        value=rows[:, 2].copy(),
        time=rows[:, 3].copy(),
    )


def run_warm(directory: Path, fold: int, cfg: Config) -> dict:
    users, movies, user_index, movie_index = load_grouplens(directory)
    base = _ratings(_read_ratings(Path(directory) / f"u{fold}.base"), user_index, movie_index)
    test = _ratings(_read_ratings(Path(directory) / f"u{fold}.test"), user_index, movie_index)
    trained = train(Dataset(users, movies, base), cfg, show_bar=True)
    result = protocols.evaluate_warm(trained, test)
    result["training_seconds"] = round(trained.seconds, 1)
    result["best_step"] = trained.best_step
    return result


def run_cold(directory: Path, cfg: Config, ks: tuple[int, ...] = (0, 5)) -> dict:
    users, movies, user_index, movie_index = load_grouplens(directory)
    everything = _ratings(_read_ratings(Path(directory) / "u.data"), user_index, movie_index)
    order = np.random.default_rng(COLD_SEED).permutation(len(users))
    held_rows = np.sort(order[: int(COLD_SHARE * len(users))])
    kept_rows = np.setdiff1d(np.arange(len(users)), held_rows)
    dataset = restrict_to_users(Dataset(users, movies, everything), kept_rows)
    started = time.perf_counter()
    trained = train(dataset, cfg, show_bar=True)
    held = users.take(held_rows)
    held_ratings = remap_users(everything, held_rows, len(users))
    results = {"training_seconds": round(time.perf_counter() - started, 1)}
    for k in ks:
        given, rest = protocols.earliest(held_ratings, k)
        results[f"c{k}"] = protocols.evaluate_new_users(trained, held, given, rest)
    return results
