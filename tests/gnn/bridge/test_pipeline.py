"""Training from the database: evaluate, publish, serve."""

import pytest
import torch
from django.conf import settings
from django.core.management import CommandError, call_command

from gnn.bridge import registry
from gnn.bridge.engine import build_engine
from gnn.bridge.snapshot import load_snapshot
from gnn.ml.network import Config
from gnn.ml.training import train
from gnn.models import ModelVersion, TrainingRun
from tests.conftest import serving, train_quickly


def test_training_on_the_fixtures_publishes_a_loadable_version_with_metrics(trained):
    loaded = registry.load_version(settings.MODELS_DIR, trained)
    meta = loaded.metadata
    metrics = meta.metrics

    for protocol in ("warm", "cold", "first_5"):
        assert set(metrics[protocol]["model"]) >= {"precision_at_10", "ndcg_at_10", "recall_at_10"}
        assert "popularity" in metrics[protocol] and "bias" in metrics[protocol]
    assert 0 < metrics["warm"]["model"]["rmse"] < 2
    assert "group_popularity" in metrics["cold"]
    assert (meta.data.users, meta.data.movies, meta.data.ratings) == (40, 60, 736)
    assert 0 < meta.data.training_ratings < 736
    assert meta.hyperparameters["dim"] == 64
    # The training curve: the validation figures of each check (here the last step's).
    curve = meta.history
    assert curve[-1]["step"] == 30 and 0 <= curve[-1]["ndcg_at_10"] <= 1
    assert meta.best_step in {check["step"] for check in curve}
    run = TrainingRun.objects.get()
    assert (run.status, run.published.version, run.trigger) == ("succeeded", trained, "command")
    # Its row is written with its files: the database's one copy of its figures.
    row = ModelVersion.objects.get(version=trained)
    assert row.metrics == metrics and row.training_run == run
    assert (row.created_at, row.snapshot_at) == (meta.created_at, meta.snapshot_at)
    assert row.data == meta.data.as_json() and row.removed_at is None
    engine = build_engine(settings.MODELS_DIR, trained)
    assert len(engine.movie_ids) == 60


def test_no_activate_publishes_without_serving(trained):
    train_quickly(no_activate=True)
    assert serving() == trained
    assert len(registry.list_versions(settings.MODELS_DIR)) == 2


def test_training_without_enough_data_fails_clearly_and_serves_nothing(db):
    with pytest.raises(CommandError, match="not enough data to train"):
        call_command("train_model", epochs=5, verbosity=0)
    assert serving() is None
    assert TrainingRun.objects.get().status == "failed"


def test_fixed_seed_makes_training_reproducible(seeded):
    dataset = load_snapshot()
    torch.set_num_threads(1)
    first = train(dataset, Config(max_steps=15, eval_every=5, seed=3))
    second = train(dataset, Config(max_steps=15, eval_every=5, seed=3))
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name


def test_training_stops_once_validation_stops_improving_and_keeps_the_best(seeded):
    dataset = load_snapshot()
    torch.set_num_threads(1)
    # No gain can reach min_delta: only the first check counts as progress.
    cfg = Config(max_steps=200, eval_every=5, patience=2, min_delta=1.0, seed=3)
    trained = train(dataset, cfg)
    assert [check["step"] for check in trained.history] == [5, 10, 15]
    best = max(trained.history, key=lambda check: check["ndcg_at_10"])
    assert trained.best_step == best["step"]


@pytest.fixture
def engine(trained):
    return build_engine(settings.MODELS_DIR, trained)
