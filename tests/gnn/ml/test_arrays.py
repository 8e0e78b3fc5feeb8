"""The member side of the model in numpy: what a web process computes
without torch is what the torch model computes."""

import copy
import dataclasses

import numpy as np
import pytest
import torch

from gnn.ml.arrays import ServingArrays, prior_keys, unit_rows
from gnn.ml.inference import (
    build_cache,
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


@pytest.fixture(scope="module")
def torch_side(tiny_model):
    """The model with both closed-form channels switched on (whatever
    validation chose for them), so that every part of the score is compared,
    its movie cache, and the serving arrays computed from them."""
    model = copy.deepcopy(tiny_model.model)
    n = len(tiny_model.movies)
    with torch.no_grad():
        model.ease_weights.copy_(torch.rand(n, n, generator=torch.Generator().manual_seed(0)) - 0.5)
        model.ease_scale.fill_(3.0)
        model.ease_half.fill_(4.0)
        prior = torch.randn(model.prior_table.shape, generator=torch.Generator().manual_seed(1))
        model.prior_table.copy_(prior)
        model.prior_scale.fill_(1.5)
        model.prior_half.fill_(2.0)
    cache = build_cache(model, **tiny_model.tensors())
    age_mean = tiny_model.preprocessor.state["age_mean"]
    arrays = serving_arrays(model, cache, tiny_model.movies.ids, age_mean)
    user_x = tiny_model.preprocessor.user_features(tiny_model.users.take([0]))
    key = int(prior_keys(tiny_model.users.age[:1], tiny_model.users.gender[:1], age_mean)[0])
    return model, cache, arrays, user_x, key


@pytest.mark.parametrize("n_ratings", [0, 5, 200])
def test_numpy_scores_equal_the_torch_models(torch_side, n_ratings):
    """Every movie's ranking score and the predicted ratings, to 1e-5, for a
    cold member, one with 5 ratings and one with 200."""
    model, cache, arrays, user_x, key = torch_side
    rng = np.random.default_rng(n_ratings)
    # The catalogue is smaller than 200: a movie may then come twice, which
    # the sums treat as two ratings, the same in both implementations.
    n_movies = len(arrays.movie_ids)
    rows = np.sort(rng.choice(n_movies, size=n_ratings, replace=n_ratings > n_movies))
    values = rng.integers(1, 6, size=n_ratings)

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


def test_the_evaluated_batch_scores_are_the_served_ones(torch_side):
    """What the benchmark measures (batch maths over many members) is what a
    request serves (one member in numpy): the same scores, item-item channel
    and demographic prior included."""
    model, cache, arrays, user_x, key = torch_side
    rows = torch.tensor([0, 1, 2, 3, 4])
    values = torch.tensor([5, 5, 5, 2, 2])
    batch = torch.zeros(len(rows), dtype=torch.long)
    zu, _ = embed_users(model, cache, torch.from_numpy(user_x), batch, rows, values)
    extra = channels(
        item_item_scores(cache, batch, rows, values, 1),
        prior_scores(cache, np.array([key]), np.array([len(rows)])),
    )
    evaluated = rank_scores(cache, zu, extra)[0].numpy()
    served, _, _ = arrays.scores(user_x[0], rows.numpy(), values.numpy(), key)
    np.testing.assert_allclose(served, evaluated, rtol=1e-5, atol=1e-5)


def test_the_arrays_survive_their_file_mapping(torch_side):
    _, _, arrays, user_x, key = torch_side
    again = ServingArrays.from_mapping(arrays.as_mapping())
    rows, values = np.array([0, 3]), np.array([4, 1])
    np.testing.assert_array_equal(
        again.scores(user_x[0], rows, values, key)[0],
        arrays.scores(user_x[0], rows, values, key)[0],
    )


def test_unit_rows_have_length_one_and_a_zero_row_stays_zero():
    unit = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0]])


def test_a_channel_over_some_movies_scores_alike_in_numpy_and_torch(torch_side):
    """Restricted to a few movies, the channel adds nothing to the others and
    the two implementations still agree."""
    model, cache, arrays, *_ = torch_side
    nodes = torch.tensor([1, 4, 7])
    restricted_cache = dataclasses.replace(
        cache, ease=cache.ease[nodes][:, nodes].contiguous(), ease_nodes=nodes
    )
    restricted = serving_arrays(model, restricted_cache, arrays.movie_ids, arrays.age_mean)
    rows, values = np.array([0, 1, 4, 5]), np.array([5, 4, 2, 3])

    numpy_part = restricted.item_item(rows, values)
    torch_part = item_item_one(restricted_cache, torch.as_tensor(rows), torch.as_tensor(values))

    np.testing.assert_allclose(numpy_part, torch_part[0].numpy(), rtol=1e-5, atol=1e-6)
    assert np.count_nonzero(numpy_part) <= 3 and numpy_part[[1, 4, 7]].any()
