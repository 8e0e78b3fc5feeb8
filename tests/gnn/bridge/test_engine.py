"""The served engine: a version's published arrays and the catalogue, equal to
the full-graph pass over the data they were computed from."""

import dataclasses
import math

import numpy as np
import pytest
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
)
from ratings.models import Rating


@pytest.fixture
def engine(trained):
    return build_engine(settings.MODELS_DIR, trained)


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
    assert all(math.isfinite(score) and 1 <= predicted <= 5 for _, score, predicted, *_ in cold)
    assert [row[1] for row in cold] == sorted((row[1] for row in cold), reverse=True)
    matches = [row[4] for row in cold]  # the share of the catalogue each ranks above
    assert matches == sorted(matches, reverse=True) and matches[0] >= 95

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
