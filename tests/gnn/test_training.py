import io
import math

import numpy as np
import pytest
import torch
from django.conf import settings
from django.core.management import CommandError, call_command

from gnn.edge import registry
from gnn.edge.engine import build_engine
from gnn.edge.snapshot import load_snapshot
from gnn.ml.data import Users
from gnn.ml.features import Preprocessor
from gnn.ml.network import Config
from gnn.ml.training import train
from gnn.models import ModelVersion, TrainingRun
from ratings.models import Rating
from tests.conftest import train_quickly


def test_training_on_the_fixtures_publishes_a_loadable_version_with_metrics(trained):
    loaded = registry.load_version(settings.MODELS_DIR, trained)
    metrics = loaded.metadata["metrics"]

    for protocol in ("warm", "cold", "first_5"):
        assert set(metrics[protocol]["model"]) >= {"precision_at_10", "ndcg_at_10", "recall_at_10"}
        assert "popularity" in metrics[protocol] and "bias" in metrics[protocol]
    assert 0 < metrics["warm"]["model"]["rmse"] < 2
    assert "group_popularity" in metrics["cold"]
    assert loaded.metadata["data"] == {
        "users": 40,
        "movies": 60,
        "ratings": 736,
        "training_ratings": loaded.metadata["data"]["training_ratings"],
    }
    assert loaded.metadata["hyperparameters"]["dim"] == 64
    run = TrainingRun.objects.get()
    assert (run.status, run.version, run.trigger) == ("succeeded", trained, "command")
    assert ModelVersion.objects.filter(version=trained).exists()
    engine = build_engine(settings.MODELS_DIR, trained)
    assert len(engine.movie_ids) == 60


def test_train_model_prints_the_metrics_table_beside_the_floors(seeded):
    out = io.StringIO()
    call_command("train_model", epochs=20, stdout=out)
    text = out.getvalue()
    assert "NDCG@10, new members (profile only)" in text
    assert "Popularity in demographic group" in text
    assert "now serving" in text


def test_no_activate_publishes_without_serving(trained):
    train_quickly(no_activate=True)
    assert registry.current_version(settings.MODELS_DIR) == trained
    assert len(registry.list_versions(settings.MODELS_DIR)) == 2


def test_training_without_enough_data_fails_clearly_and_serves_nothing(db):
    with pytest.raises(CommandError, match="not enough data to train"):
        call_command("train_model", epochs=5, verbosity=0)
    assert registry.current_version(settings.MODELS_DIR) is None
    assert TrainingRun.objects.get().status == "failed"


def test_fixed_seed_makes_training_reproducible(seeded):
    dataset = load_snapshot()
    torch.set_num_threads(1)
    first = train(dataset, Config(max_steps=15, eval_every=5, seed=3))
    second = train(dataset, Config(max_steps=15, eval_every=5, seed=3))
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name


def test_model_versions_and_rollback_commands(trained):
    second = train_quickly()
    out = io.StringIO()
    call_command("model_versions", stdout=out)
    assert f"* {second}" in out.getvalue()
    assert f"  {trained}" in out.getvalue()

    call_command("model_rollback", trained, stdout=io.StringIO())
    assert registry.current_version(settings.MODELS_DIR) == trained

    with pytest.raises(CommandError, match="does not exist"):
        call_command("model_rollback", "19990101-000000-000000")
    assert registry.current_version(settings.MODELS_DIR) == trained


def test_rollback_to_a_corrupt_version_is_refused(trained):
    second = train_quickly()
    weights = registry.versions_dir(settings.MODELS_DIR) / trained / "model.pt"
    weights.write_bytes(b"garbage")
    with pytest.raises(CommandError, match="corrupt"):
        call_command("model_rollback", trained)
    assert registry.current_version(settings.MODELS_DIR) == second


def test_evaluate_model_shows_the_recorded_figures(trained):
    out = io.StringIO()
    call_command("evaluate_model", stdout=out)
    assert trained in out.getvalue()
    assert "Rating error (RMSE), members in training" in out.getvalue()


def test_evaluate_model_without_a_model_says_so(db):
    with pytest.raises(CommandError, match="no model version is serving"):
        call_command("evaluate_model")


# --- The model is inductive --------------------------------------------------


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
