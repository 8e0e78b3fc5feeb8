"""The onboarding measure: what a simulated newcomer may answer, what is tested."""

import numpy as np
import pytest

from gnn.ml import benchmark, onboarding
from gnn.ml.inference import serving_arrays


@pytest.fixture(scope="module")
def holdout(tiny_holdout):
    trained, held, held_ratings, *_ = tiny_holdout
    return trained, held, held_ratings


def test_the_halves_split_each_members_ratings_once_and_whatever_the_order():
    rng = np.random.default_rng(0)
    user = np.repeat(np.arange(6), 9)
    movie = np.concatenate([rng.permutation(30)[:9] for _ in range(6)])
    revealable = onboarding.halves(user, movie, seed=0)
    assert np.bincount(user[revealable], minlength=6).tolist() == [4] * 6
    order = rng.permutation(len(user))
    again = onboarding.halves(user[order], movie[order], seed=0)
    assert sorted(zip(user[revealable], movie[revealable], strict=True)) == sorted(
        zip(user[order][again], movie[order][again], strict=True)
    )
    assert not np.array_equal(revealable, onboarding.halves(user, movie, seed=1))


def test_a_simulated_member_rates_only_their_revealable_half_with_their_true_values(holdout):
    trained, held, held_ratings = holdout
    age_mean = trained.preprocessor.state["age_mean"]
    arrays = serving_arrays(trained.model, trained.cache(), trained.movies.ids, age_mean)
    counts = np.bincount(trained.ratings.movie, minlength=len(trained.movies))
    features = trained.preprocessor.user_features(held)
    mask = onboarding.halves(held_ratings.user, held_ratings.movie, 0)
    chooser = onboarding.Chooser(arrays, counts)
    popular = onboarding.PopularPanel(counts)
    for u in range(len(held)):
        own = mask & (held_ratings.user == u)
        revealable = dict(
            zip(held_ratings.movie[own].tolist(), held_ratings.value[own].tolist(), strict=True)
        )
        for choose, refill in ((chooser.page, False), (chooser.page, True), (popular.page, False)):
            session = onboarding.simulate(
                choose, onboarding.Member(features[u], 0), revealable, refill=refill
            )
            assert set(session.rated_rows) <= set(revealable)
            assert session.rated_values == [revealable[r] for r in session.rated_rows]
            assert len(session.asked) == len(set(session.asked))  # never the same movie twice
            assert len(session.rated_rows) <= 5 and session.pages <= 10
            if len(session.rated_rows) < 5:
                # It stopped for want of pages or of movies, not early.
                assert session.pages == 10 or len(session.asked) >= len(chooser.pool)


def test_every_chooser_is_scored_on_the_same_test_half(holdout):
    trained, held, held_ratings = holdout
    result = benchmark.onboarding_holdout(trained, held, held_ratings)
    users = {result[name]["users"] for name in benchmark.ONBOARDING_METHODS}
    assert len(users) == 1 and users.pop() > 0
    mask = onboarding.halves(held_ratings.user, held_ratings.movie, benchmark.HALVES_SEED)
    assert result["test_half"]["ratings"] == int((~mask).sum())
    # The test half is what the halves leave: the same whoever chooses.
    again = benchmark.onboarding_holdout(trained, held, held_ratings)
    assert again["test_half"] == result["test_half"]
    assert result["chooser"]["pages"] >= 1 and 0 < result["random_5"]["ratings"] <= 5
