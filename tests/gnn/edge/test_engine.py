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
