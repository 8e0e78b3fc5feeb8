"""Training from the database: evaluate, publish, serve."""

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from gnn.bridge import registry
from gnn.bridge.engine import build_engine
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


def _metrics(model_ndcg, floor_ndcg=0.1, rmse=1.0):
    return {
        "warm": {
            "model": {"ndcg_at_10": model_ndcg, "rmse": rmse},
            "popularity": {"ndcg_at_10": floor_ndcg},
        }
    }


@pytest.mark.parametrize(
    ("new", "served", "expected"),
    [
        (_metrics(0.30), _metrics(0.31), True),
        (_metrics(0.28), _metrics(0.31), False),  # more than 0.02 below the served one
        (_metrics(0.05), _metrics(0.31), False),  # below the popularity floor
        (_metrics(float("nan")), _metrics(0.31), False),
        ({}, _metrics(0.31), False),
        (_metrics(0.05), None, True),  # the first version is served anyway
    ],
)
def test_the_quality_gate(new, served, expected, settings):
    from gnn.bridge.metadata import DataCounts, VersionMetadata
    from gnn.bridge.pipeline import quality_gate

    if served is not None:
        served = VersionMetadata("v", 4, None, None, metrics=served)
    settings.QUALITY_GATE_MIN_RATINGS = 0
    serve, why = quality_gate(new, DataCounts(ratings=100_000), served)
    assert serve is expected, why
    if served is None:
        assert "first version" in why
    # Fixture-sized data is served anyway, and says so.
    settings.QUALITY_GATE_MIN_RATINGS = 1_000_000
    assert quality_gate(new, DataCounts(ratings=100_000), served)[0] is True


def _chosen(version: str) -> dict:
    return registry.read_metadata(settings.MODELS_DIR, version).chosen_on_validation


def test_a_retrain_continues_from_the_served_version_until_the_catalogue_changes(trained, settings):
    first = _chosen(trained)
    assert first["started_from"] is None and first["full_retrain_at"]  # the first is full

    continued = train_quickly()
    assert _chosen(continued)["started_from"] == trained
    assert _chosen(continued)["full_retrain_at"] == first["full_retrain_at"]  # still that one's

    assert _chosen(train_quickly(full=True))["started_from"] is None  # asked for

    from catalog.models import Movie

    Movie.objects.create(title="A new film", year=2026)
    assert _chosen(train_quickly())["started_from"] is None  # the catalogue changed


def test_a_full_retrain_comes_when_the_last_full_one_is_old(trained, settings):
    settings.TRAINING_FULL_EVERY_DAYS = 0
    assert _chosen(train_quickly())["started_from"] is None
