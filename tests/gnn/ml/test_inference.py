"""Inference from one full-graph pass: the movie cache, members embedded from
it alone, and the serving arrays a web process loads."""

import numpy as np
import torch

from gnn.ml.inference import (
    embed_one_user,
    embed_users,
    predicted_ratings,
    rank_scores,
    serving_arrays,
)


def _members(tiny_model, n=3):
    """The first n users' features and their ratings as a batch (row = member)."""
    ratings = tiny_model.ratings
    pick = ratings.user < n
    user_x = torch.from_numpy(
        tiny_model.preprocessor.user_features(tiny_model.users.take(range(n)))
    )
    return (
        user_x,
        torch.as_tensor(ratings.user[pick]),
        torch.as_tensor(ratings.movie[pick]),
        torch.as_tensor(ratings.value[pick]),
    )


def test_a_batch_of_members_embeds_as_each_member_alone(tiny_model):
    cache = tiny_model.cache()
    user_x, ui, mi, r = _members(tiny_model)
    zu, bu = embed_users(tiny_model.model, cache, user_x, ui, mi, r)
    for row in range(3):
        mine = ui == row
        one, one_bias = embed_one_user(
            tiny_model.model, cache, user_x[row : row + 1], mi[mine], r[mine]
        )
        torch.testing.assert_close(one[0], zu[row], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(one_bias[0], bu[row], rtol=1e-5, atol=1e-5)


def test_the_cache_holds_the_embeddings_of_the_full_graph_pass(tiny_model):
    """Members of the graph embedded from the cache alone get the embedding
    the full-graph pass gave them."""
    cache = tiny_model.cache()
    user_x, ui, mi, r = _members(tiny_model)
    zu, _ = embed_users(tiny_model.model, cache, user_x, ui, mi, r)
    torch.testing.assert_close(zu, cache.users[:3], rtol=1e-4, atol=1e-4)


def test_predicted_ratings_stay_on_the_rating_scale(tiny_model):
    cache = tiny_model.cache()
    zu = cache.users * 50  # far outside anything training produced
    ratings = predicted_ratings(tiny_model.model, cache, zu, torch.zeros(len(zu)))
    assert ratings.min() >= 1.0 and ratings.max() <= 5.0
    rows = torch.tensor([0, 2])
    some = predicted_ratings(tiny_model.model, cache, zu[:1], torch.zeros(1), rows=rows)
    torch.testing.assert_close(some[0], ratings[0, rows])


def test_a_ranking_score_for_every_movie(tiny_model):
    cache = tiny_model.cache()
    scores = rank_scores(cache, cache.users[:2])
    assert scores.shape == (2, len(tiny_model.movies)) and torch.isfinite(scores).all()


def test_the_serving_arrays_name_their_movies_and_carry_the_cache(tiny_model):
    cache = tiny_model.cache()
    ids = tiny_model.movies.ids
    arrays = serving_arrays(tiny_model.model, cache, ids, 33.0)
    assert arrays.movie_ids.tolist() == ids.tolist()
    np.testing.assert_array_equal(arrays.movies, cache.m.numpy())
    assert arrays.messages1.shape == (len(ids), tiny_model.model.cfg.n_types, cache.m.shape[1])
    assert arrays.age_mean == 33.0 and arrays.movies.dtype == np.float32
