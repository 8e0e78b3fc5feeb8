"""The served engine: one member's embedding from cached movie states."""

import math

import numpy as np
import pytest
import torch
from django.conf import settings

from gnn.edge.engine import build_engine
from gnn.ml.data import Users
from gnn.ml.features import Preprocessor
from ratings.models import Rating


@pytest.fixture
def engine(trained):
    return build_engine(settings.MODELS_DIR, trained)


def test_incremental_user_embedding_equals_the_full_graph_pass(engine, seeded):
    for user_pk in engine.graph_user_ids[:5]:
        rated = list(Rating.objects.filter(user_id=user_pk).values_list("movie_id", "value"))
        from accounts.models import User

        user = User.objects.get(pk=user_pk)
        zu, _ = engine.embed(user, rated)
        full = engine.full_graph_user_embedding(int(user_pk))
        assert torch.allclose(zu[0], full, atol=1e-4), (zu[0] - full).abs().max()


def test_a_user_without_ratings_gets_finite_scores_and_ratings_change_them(engine, member):
    movie_ids = [int(m) for m in engine.movie_ids[:5]]
    cold = engine.recommend(user=member, rated=[], exclude=set(), k=10)
    assert len(cold) == 10
    assert all(math.isfinite(score) and 1 <= predicted <= 5 for _, score, predicted, _ in cold)

    warm = engine.recommend(
        user=member, rated=[(m, 5) for m in movie_ids], exclude=set(movie_ids), k=10
    )
    assert [row[1] for row in warm] != [row[1] for row in cold]
    assert not {row[0] for row in warm} & set(movie_ids)


def test_unknown_demographics_map_to_a_fallback(engine):
    users = Users(
        ids=np.array([1, 2]),
        age=np.array([np.nan, 300.0]),
        gender=["", "X"],
        occupation=["astronaut", ""],
        zip_code=["", "not a zip"],
    )
    features = engine.preprocessor.user_features(users)
    assert torch.isfinite(features).all()
    assert features.shape[1] == engine.preprocessor.n_user_features


def test_preprocessor_state_round_trips_through_json(engine):
    import json

    again = Preprocessor(json.loads(json.dumps(engine.preprocessor.state)))
    assert again.state == engine.preprocessor.state


def test_a_served_score_is_the_evaluated_score_channels_included(engine, member):
    """What the benchmark measures (batch maths over many members) is what a
    request serves (one member): the same scores, item-item channel and
    demographic prior included."""
    import dataclasses

    # Both channels on, whatever the fixture's validation chose for them.
    n = engine.cache.m.size(0)
    weights = torch.rand(n, n, generator=torch.Generator().manual_seed(0)) - 0.5
    cache = dataclasses.replace(
        engine.cache, ease=weights, ease_scale=3.0, ease_half=4.0,
        prior=torch.randn(engine.cache.prior.shape, generator=torch.Generator().manual_seed(1)),
        prior_scale=1.5, prior_half=2.0,
    )  # fmt: skip
    engine = dataclasses.replace(engine, cache=cache)
    from gnn.ml.inference import (
        channels,
        embed_users,
        item_item_scores,
        prior_scores,
        rank_scores,
    )
    from gnn.ml.network import prior_keys

    liked = [int(m) for m in engine.movie_ids[:3]]
    disliked = [int(m) for m in engine.movie_ids[3:5]]
    rated = [(m, 5) for m in liked] + [(m, 2) for m in disliked]
    served = engine.recommend(user=member, rated=rated, exclude=set(), k=10)

    rows = torch.tensor([engine.movie_row[m] for m, _ in rated])
    values = torch.tensor([v for _, v in rated])
    user_x = engine.preprocessor.user_features(
        Users(
            ids=np.array([member.pk]),
            age=np.array([float(member.age)]),
            gender=[member.gender],
            occupation=[member.occupation],
            zip_code=[member.zip_code],
        )
    )
    batch = torch.zeros(len(rated), dtype=torch.long)
    zu, _ = embed_users(engine.model, engine.cache, user_x, batch, rows, values)
    keys = prior_keys([member.age], [member.gender], 30.0)
    extra = channels(
        item_item_scores(engine.cache, batch, rows, values, 1),
        prior_scores(engine.cache, keys, np.array([len(rated)])),
    )
    scores = rank_scores(engine.cache, zu, extra)[0]
    for movie_id, score, _, _ in served:
        assert score == pytest.approx(float(scores[engine.movie_row[movie_id]]), abs=1e-4)
