"""What the gnn.ml tests share."""

import pytest

from gnn.ml import benchmark
from gnn.ml.network import Config
from gnn.ml.training import train
from tests.conftest import SYNTHETIC


@pytest.fixture(scope="module")
def tiny_holdout():
    users, movies, user_index, movie_index = benchmark.load_grouplens(SYNTHETIC)
    everything = benchmark._ratings(
        benchmark._read_ratings(SYNTHETIC / "u.data"), user_index, movie_index
    )
    held_rows, kept_rows = benchmark.cold_holdout(len(users), 0)
    dataset = benchmark.restrict_to_users(benchmark.Dataset(users, movies, everything), kept_rows)
    trained = train(dataset, Config(seed=0, max_steps=5))
    held = users.take(held_rows)
    held_ratings = benchmark.remap_users(everything, held_rows, len(users))
    return trained, held, held_ratings, held_rows, kept_rows, users


@pytest.fixture(scope="module")
def synthetic_dataset():
    """The synthetic MovieLens files as gnn.ml's arrays (no database)."""
    users, movies, user_index, movie_index = benchmark.load_grouplens(SYNTHETIC)
    ratings = benchmark._ratings(
        benchmark._read_ratings(SYNTHETIC / "u.data"), user_index, movie_index
    )
    return benchmark.Dataset(users, movies, ratings)


@pytest.fixture(scope="module")
def tiny_model(synthetic_dataset):
    """A model trained briefly on every synthetic rating."""
    return train(synthetic_dataset, Config(seed=0, max_steps=10, eval_every=5))
