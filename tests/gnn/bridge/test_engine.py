"""The served engine: numpy over the published arrays, equal to the torch model."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from django.conf import settings

from accounts.models import User
from gnn.bridge import weights
from gnn.bridge.engine import build_engine
from gnn.bridge.snapshot import load_snapshot
from gnn.ml.data import Users
from gnn.ml.features import Preprocessor
from gnn.ml.graph import build_graph
from gnn.ml.inference import (
    build_cache_from_graph,
    channels,
    embed_one_user,
    embed_users,
    item_item_one,
    item_item_scores,
    predicted_ratings,
    prior_scores,
    rank_scores,
    serving_arrays,
)
from gnn.ml.network import prior_keys
from ratings.models import Rating


@pytest.fixture
def engine(trained):
    return build_engine(settings.MODELS_DIR, trained)


@pytest.fixture
def torch_side(trained):
    """The version's torch model and the movie cache of the current database,
    with both closed-form channels switched on (whatever the fixtures'
    validation chose for them) so that every part of the score is compared."""
    version = weights.load_trained(settings.MODELS_DIR, trained)
    model, preprocessor = version.model, version.preprocessor
    n = len(preprocessor.state["movie_ids"])
    with torch.no_grad():
        model.ease_weights.copy_(torch.rand(n, n, generator=torch.Generator().manual_seed(0)) - 0.5)
        model.ease_scale.fill_(3.0)
        model.ease_half.fill_(4.0)
        prior = torch.randn(model.prior_table.shape, generator=torch.Generator().manual_seed(1))
        model.prior_table.copy_(prior)
        model.prior_scale.fill_(1.5)
        model.prior_half.fill_(2.0)
    dataset = load_snapshot()
    cache = build_cache_from_graph(model, build_graph(dataset, preprocessor))
    return model, preprocessor, cache, dataset


def _features(preprocessor, user):
    return preprocessor.user_features(
        Users(
            ids=np.array([user.pk]),
            age=np.array([np.nan if user.age is None else float(user.age)]),
            gender=[user.gender or ""],
            occupation=[user.occupation or ""],
            zip_code=[user.zip_code or ""],
        )
    )


@pytest.mark.parametrize("n_ratings", [0, 5, 200])
def test_numpy_scores_equal_the_torch_models(torch_side, member, n_ratings):
    """What a web process computes without torch is what the model computes:
    every movie's ranking score and the predicted ratings, to 1e-5, for a cold
    member, one with 5 ratings and one with 200."""
    model, preprocessor, cache, dataset = torch_side
    arrays = serving_arrays(model, cache, dataset.movies.ids, preprocessor.state["age_mean"])
    rng = np.random.default_rng(n_ratings)
    # The fixtures' catalogue is smaller than 200: a movie may then come twice,
    # which the sums treat as two ratings, the same in both implementations.
    n_movies = len(dataset.movies)
    rows = np.sort(rng.choice(n_movies, size=n_ratings, replace=n_ratings > n_movies))
    values = rng.integers(1, 6, size=n_ratings)
    user_x = _features(preprocessor, member)
    key = int(prior_keys([member.age], [member.gender], preprocessor.state["age_mean"])[0])

    scores, zu, bu = arrays.scores(user_x[0], rows, values, key)

    t_rows, t_values = torch.as_tensor(rows), torch.as_tensor(values)
    t_zu, t_bu = embed_one_user(model, cache, torch.from_numpy(user_x), t_rows, t_values)
    extra = channels(
        item_item_one(cache, t_rows, t_values), prior_scores(cache, [key], np.array([n_ratings]))
    )
    expected = rank_scores(cache, t_zu, extra)[0].numpy()
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    top = np.argsort(-scores)[:20]
    np.testing.assert_allclose(
        arrays.predicted_ratings(zu, bu, top),
        predicted_ratings(model, cache, t_zu, t_bu, rows=torch.as_tensor(top))[0].numpy(),
        rtol=1e-5,
        atol=1e-5,
    )


def test_the_served_embedding_equals_the_full_graph_pass(engine, trained, seeded):
    """A member's embedding from the published messages is the one the
    full-graph pass gives the same member (published arrays = current data)."""
    version = weights.load_trained(settings.MODELS_DIR, trained)
    dataset = load_snapshot()
    cache = build_cache_from_graph(version.model, build_graph(dataset, version.preprocessor))
    for row, user_pk in enumerate(dataset.users.ids[:5].tolist()):
        rated = list(Rating.objects.filter(user_id=user_pk).values_list("movie_id", "value"))
        zu, _ = engine.embed(User.objects.get(pk=user_pk), rated)
        np.testing.assert_allclose(zu, cache.users[row].numpy(), atol=1e-4)


def test_a_user_without_ratings_gets_finite_scores_and_ratings_change_them(engine, member):
    movie_ids = [int(m) for m in engine.movie_ids[:5]]
    cold = engine.recommend(user=member, rated=[], exclude=set(), k=10)
    assert len(cold) == 10
    assert all(math.isfinite(score) and 1 <= predicted <= 5 for _, score, predicted, _ in cold)
    assert [row[1] for row in cold] == sorted((row[1] for row in cold), reverse=True)

    warm = engine.recommend(
        user=member, rated=[(m, 5) for m in movie_ids], exclude=set(movie_ids), k=10
    )
    assert [row[1] for row in warm] != [row[1] for row in cold]
    assert not {row[0] for row in warm} & set(movie_ids)


def test_movies_hidden_since_the_arrays_were_computed_are_never_recommended(engine, member):
    first = engine.recommend(user=member, rated=[], exclude=set(), k=3)
    hidden = {row[0] for row in first}
    movies = {pk: m for pk, m in engine.movies.items() if pk not in hidden}
    rows = np.array([engine.movie_row[pk] for pk in hidden])
    pruned = dataclasses.replace(engine, movies=movies, hidden_rows=rows)
    again = pruned.recommend(user=member, rated=[], exclude=set(), k=10)
    assert len(again) == 10 and not {row[0] for row in again} & hidden


def test_unknown_demographics_map_to_a_fallback(engine):
    users = Users(
        ids=np.array([1, 2]),
        age=np.array([np.nan, 300.0]),
        gender=["", "X"],
        occupation=["astronaut", ""],
        zip_code=["", "not a zip"],
    )
    features = engine.preprocessor.user_features(users)
    assert np.isfinite(features).all()
    assert features.shape[1] == engine.preprocessor.n_user_features


def test_preprocessor_state_round_trips_through_json(engine):
    import json

    again = Preprocessor(json.loads(json.dumps(engine.preprocessor.state)))
    assert again.state == engine.preprocessor.state


def test_the_evaluated_batch_scores_are_the_served_ones(torch_side, member):
    """What the benchmark measures (batch maths over many members) is what a
    request serves (one member in numpy): the same scores, item-item channel
    and demographic prior included."""
    model, preprocessor, cache, dataset = torch_side
    arrays = serving_arrays(model, cache, dataset.movies.ids, preprocessor.state["age_mean"])
    rows = torch.tensor([0, 1, 2, 3, 4])
    values = torch.tensor([5, 5, 5, 2, 2])
    user_x = _features(preprocessor, member)
    batch = torch.zeros(len(rows), dtype=torch.long)
    zu, _ = embed_users(model, cache, torch.from_numpy(user_x), batch, rows, values)
    keys = prior_keys([member.age], [member.gender], preprocessor.state["age_mean"])
    extra = channels(
        item_item_scores(cache, batch, rows, values, 1),
        prior_scores(cache, keys, np.array([len(rows)])),
    )
    evaluated = rank_scores(cache, zu, extra)[0].numpy()
    served, _, _ = arrays.scores(user_x[0], rows.numpy(), values.numpy(), int(keys[0]))
    np.testing.assert_allclose(served, evaluated, rtol=1e-5, atol=1e-5)
