"""The floors: EASE by hand, and hyperparameters chosen on training data only."""

import numpy as np
import pytest

from gnn.ml import floors as fl
from gnn.ml.benchmark import load_grouplens
from gnn.ml.data import Ratings
from tests.conftest import SYNTHETIC


def test_ease_matches_a_hand_computed_3x3_case():
    # Items liked: user 0 {0, 1}, user 1 {0}, user 2 {0, 2}; λ = 1.
    X = np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1]], dtype=float)
    # G = XᵀX + I = [[4,1,1],[1,2,0],[1,0,2]], det 12, P = G⁻¹ = [[4,-2,-2],[-2,7,1],[-2,1,7]]/12,
    # B_ij = -P_ij / P_jj with a zero diagonal.
    expected = np.array([[0, 2 / 7, 2 / 7], [1 / 2, 0, -1 / 7], [1 / 2, -1 / 7, 0]])
    B = fl.ease_weights(X, 1.0)
    assert pytest.approx(expected) == B
    # A member's scores are their row of X times B.
    assert X[0] @ B == pytest.approx([1 / 2, 2 / 7, 1 / 7])


def _fixture_floors():
    users, movies, user_index, movie_index = load_grouplens(SYNTHETIC)
    rows = np.loadtxt(SYNTHETIC / "u.data", dtype=np.int64, delimiter="\t")
    ratings = Ratings(
        user=np.array([user_index[u] for u in rows[:, 0]]),
        movie=np.array([movie_index[m] for m in rows[:, 1]]),
        value=rows[:, 2].copy(),
        time=rows[:, 3].copy(),
    )
    return users, ratings, len(movies)


def test_hyperparameters_are_chosen_from_their_grids_and_reproducibly():
    users, ratings, n_movies = _fixture_floors()
    first, second = (fl.Floors(users, ratings, n_movies) for _ in range(2))
    for floors in (first, second):
        floors.warm_lambda()
        floors.group_smoothing()
        floors.few_shot_choice("first_3", lambda r: _earliest(r, 3))
    assert first.chosen == second.chosen
    assert first.chosen["group_smoothing"] in fl.SMOOTHINGS
    assert first.chosen["ease_first_3"]["beta"] in fl.BETAS
    scaled = [round(lam / (1 - fl.VALIDATION_SHARE), 1) for lam in fl.LAMBDAS]
    assert first.chosen["ease_warm_lambda"] in scaled


def _earliest(ratings, k):
    first = ratings.rank_in_user_history() < k
    return ratings.take(first), ratings.take(~first)


def test_ease_over_the_most_rated_movies_equals_ease_on_their_columns_and_ranks_them_first():
    users, ratings, n_movies = _fixture_floors()
    everything = fl.Floors(users, ratings, n_movies)
    limited = fl.Floors(users, ratings, n_movies, ease_movies=10)
    counts = np.bincount(ratings.movie, minlength=n_movies)
    covered = np.sort(np.argsort(-counts, kind="stable")[:10])
    X = everything._X.toarray()
    lam = 100.0
    expected = fl.ease_weights(X[:, covered], lam)
    assert limited.ease(lam) == pytest.approx(expected)
    # A member's scores: their covered likes times B on the covered movies;
    # every other movie below all of those.
    members = np.arange(5)
    scores = limited._full.scorer(limited._X[members], limited.ease(lam))(0, 5)
    assert scores[:, covered] == pytest.approx(X[members][:, covered] @ expected)
    others = np.setdiff1d(np.arange(n_movies), covered)
    assert scores[:, others].max() < scores[:, covered].min()
    # With enough room it is every movie's EASE, unchanged.
    assert fl.Floors(users, ratings, n_movies, ease_movies=n_movies).ease(lam) == pytest.approx(
        everything.ease(lam)
    )
