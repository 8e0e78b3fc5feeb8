"""Training: the validation share, reproducibility, early stopping and the
curve it reports."""

import numpy as np
import torch

from gnn.ml import benchmark
from gnn.ml.data import Ratings
from gnn.ml.network import Config
from gnn.ml.training import sample_members, split_validation, train


def _ratings(users=30, per_user=12):
    rng = np.random.default_rng(0)
    user = np.repeat(np.arange(users), per_user)
    return Ratings(
        user=user,
        movie=np.concatenate([rng.permutation(50)[:per_user] for _ in range(users)]),
        value=rng.integers(1, 6, len(user)),
        time=np.arange(len(user)),
    )


def test_the_validation_share_is_random_per_rating_and_leaves_everyone_five_to_train_on():
    ratings = _ratings(per_user=12)
    kept, held = split_validation(ratings, 0.3, seed=1)
    assert len(kept) + len(held) == len(ratings)
    assert 0.15 < len(held) / len(ratings) < 0.45
    assert np.bincount(kept.user, minlength=30).min() >= 5
    pairs = set(zip(kept.user.tolist(), kept.movie.tolist(), strict=True))
    assert not pairs & set(zip(held.user.tolist(), held.movie.tolist(), strict=True))
    again, _ = split_validation(ratings, 0.3, seed=1)
    assert again.movie.tolist() == kept.movie.tolist()


def test_a_member_with_few_ratings_keeps_them_all_for_training():
    ratings = _ratings(per_user=5)
    kept, held = split_validation(ratings, 0.5, seed=1)
    assert len(held) == 0 and len(kept) == len(ratings)


def test_validation_watches_every_member_or_a_fixed_sample():
    held = _ratings(users=30, per_user=2)
    assert sample_members(held, 100, seed=0).tolist() == list(range(30))
    sample = sample_members(held, 10, seed=0)
    assert len(sample) == 10 and sample.tolist() == sample_members(held, 10, seed=0).tolist()


def test_a_fixed_seed_makes_training_reproducible(synthetic_dataset):
    torch.set_num_threads(1)
    first = train(synthetic_dataset, Config(max_steps=15, eval_every=5, seed=3))
    second = train(synthetic_dataset, Config(max_steps=15, eval_every=5, seed=3))
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name


def test_training_stops_once_validation_stops_improving_and_keeps_the_best(synthetic_dataset):
    torch.set_num_threads(1)
    # No gain can reach min_delta: only the first check counts as progress.
    cfg = Config(max_steps=200, eval_every=5, patience=2, min_delta=1.0, seed=3)
    checks = []
    trained = train(synthetic_dataset, cfg, on_check=checks.append)
    assert [check["step"] for check in trained.history] == [5, 10, 15]
    assert [check["step"] for check in checks] == [5, 10, 15]  # reported as they happen
    best = max(trained.history, key=lambda check: check["ndcg_at_10"])
    assert trained.best_step == best["step"]


def test_a_trained_model_knows_every_movie_and_reports_its_choices(tiny_model, synthetic_dataset):
    assert tiny_model.preprocessor.n_known_movies == len(synthetic_dataset.movies)
    assert len(tiny_model.ratings) == len(synthetic_dataset.ratings)
    assert {"ease_lambda", "ease_scale", "prior_scale"} <= set(tiny_model.chosen)
    assert tiny_model.seconds > 0 and tiny_model.history


def test_members_without_demographics_train_and_are_measured(synthetic_dataset):
    """MovieLens 10M and later carry no age or gender: every member unknown."""
    from dataclasses import replace

    from gnn.ml import protocols
    from gnn.ml.data import Dataset, remap_users

    n = len(synthetic_dataset.users)
    users = replace(synthetic_dataset.users, age=np.full(n, np.nan), gender=[""] * n)
    held_rows, kept_rows = np.arange(0, n, 5), np.setdiff1d(np.arange(n), np.arange(0, n, 5))
    everyone = Dataset(users, synthetic_dataset.movies, synthetic_dataset.ratings)
    kept = benchmark.restrict_to_users(everyone, kept_rows)

    trained = train(kept, Config(seed=0, max_steps=10, eval_every=5))

    assert trained.preprocessor.state["age_mean"] == 30.0
    table = trained.model.prior_table
    assert torch.isfinite(table).all()
    results = protocols.evaluate_all_new_members(
        trained, users.take(held_rows), remap_users(everyone.ratings, held_rows, n)
    )
    assert 0.0 <= results["cold"]["model"]["ndcg_at_10"] <= 1.0
