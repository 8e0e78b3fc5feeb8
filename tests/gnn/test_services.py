"""Training runs without a worker: claims, staleness, the threshold and the schedule."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Movie
from gnn import runs, services
from gnn.models import TrainingRun
from gnn.tasks import scheduled_retrain
from ratings.selectors import ratings_written_since
from ratings.services import rating_set


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """These tests are about the database's side; record what would be sent."""
    sent = []
    monkeypatch.setattr(services, "_send", lambda run_id: sent.append(run_id) or True)
    return sent


def test_the_database_allows_only_one_active_run(db):
    TrainingRun.objects.create(trigger="admin")
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingRun.objects.create(trigger="threshold")


def test_a_run_is_claimed_once(trained, monkeypatch):
    run = TrainingRun.objects.create(trigger="admin")
    monkeypatch.setattr("gnn.bridge.pipeline.train_from_database", _fake_training)
    first = runs.training_run_execute(run_id=run.pk)
    second = runs.training_run_execute(run_id=run.pk)
    assert first is not None and first.pk == run.pk
    assert second is None


def _fake_training(**_):
    raise RuntimeError("simulated failure")


def test_a_failing_run_is_marked_failed_and_frees_the_slot(trained, monkeypatch):
    monkeypatch.setattr("gnn.bridge.pipeline.train_from_database", _fake_training)
    run = TrainingRun.objects.create(trigger="admin")
    runs.training_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and run.active is None
    assert "simulated failure" in run.error
    assert services.training_request(trigger="admin") is not None


def test_a_run_without_heartbeat_is_stale_and_a_new_one_can_start(db, settings):
    old = timezone.now() - timedelta(seconds=settings.TRAINING_STALE_SECONDS + 5)
    stale = TrainingRun.objects.create(trigger="admin", status="running", heartbeat_at=old)

    fresh = services.training_request(trigger="admin")

    stale.refresh_from_db()
    assert stale.status == "failed" and "stopped reporting progress" in stale.error
    assert fresh is not None


def test_the_threshold_counts_ratings_since_the_served_snapshot(trained, member, settings):
    settings.RETRAIN_AFTER_RATINGS = 3
    movies = list(Movie.objects.order_by("pk")[:3])
    for movie in movies[:2]:
        rating_set(user=member, movie=movie, value=4)
        services.retrain_if_due()
    assert ratings_written_since(since=services.served_snapshot_at()) == 2
    assert not TrainingRun.objects.filter(trigger="threshold").exists()

    rating_set(user=member, movie=movies[2], value=4)
    run = services.retrain_if_due()

    assert run is not None and run.trigger == "threshold"
    assert services.retrain_if_due() is None  # one at a time
    assert TrainingRun.objects.filter(active=True).count() == 1


def test_the_schedule_is_off_by_default_and_starts_a_scheduled_run(db, settings):
    from recommender.settings import CELERY_BEAT_SCHEDULE

    assert "periodic-retrain" not in CELERY_BEAT_SCHEDULE
    assert CELERY_BEAT_SCHEDULE["periodic-refresh"]["task"] == "gnn.tasks.refresh_serving"
    scheduled_retrain()
    assert TrainingRun.objects.get().trigger == "schedule"


def _rate(member, movies, value=4):
    for movie in movies:
        rating_set(user=member, movie=movie, value=value)


def test_a_rollback_pauses_automatic_retraining_until_a_curator_resumes_it(
    trained, member, settings
):

    from gnn.versions import version_activate
    from tests.conftest import serving, train_quickly

    newer = train_quickly()
    assert newer != trained
    version_activate(version=trained, by="carol")  # the rollback
    settings.RETRAIN_AFTER_RATINGS = 2
    _rate(member, Movie.objects.order_by("pk")[:3])

    assert services.retrain_if_due() is None  # the rollback is not undone
    assert serving() == trained
    assert "paused" in services.retraining_status() and "carol" in services.retraining_status()

    services.retraining_resume()
    assert services.retrain_if_due() is not None


def test_the_threshold_counts_from_the_latest_run_and_backs_off_after_failures(
    trained, member, settings
):
    settings.RETRAIN_AFTER_RATINGS = 2
    settings.RETRAIN_FAILURE_BACKOFF_SECONDS = 600
    movies = list(Movie.objects.order_by("pk")[:6])
    _rate(member, movies[:2])
    failed = services.retrain_if_due()
    TrainingRun.objects.filter(pk=failed.pk).update(
        status="failed", active=None, finished_at=timezone.now(), error="simulated"
    )
    # The ratings that triggered the failed run do not trigger again at once ...
    assert services.retrain_if_due() is None
    # ... and new ones wait out the backoff, which the admin shows.
    _rate(member, movies[2:4])
    assert services.retrain_if_due() is None
    assert "failed" in services.retraining_status()

    TrainingRun.objects.filter(pk=failed.pk).update(
        finished_at=timezone.now() - timedelta(seconds=601)
    )
    assert services.retrain_if_due() is not None


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


def test_a_version_the_gate_rejects_is_published_not_served_and_the_run_says_why(trained, settings):
    from django.conf import settings as live

    from gnn.bridge import registry
    from tests.conftest import serving

    settings.QUALITY_GATE_MIN_RATINGS = 0
    path = registry.versions_dir(live.MODELS_DIR) / trained / registry.METADATA_FILE
    import json

    metadata = json.loads(path.read_text())
    metadata["metrics"]["warm"]["model"]["ndcg_at_10"] = 0.99  # a served version far ahead
    path.write_text(json.dumps(metadata))

    run = runs.training_run_local(trigger="command")

    assert run.status == "rejected"
    assert "below the served version" in run.error
    assert run.published.version != trained  # published for inspection, not served
    assert serving() == trained


def test_the_heartbeat_goes_on_while_a_run_evaluates_and_a_run_taken_for_dead_stays_failed(
    trained_committed, settings, monkeypatch
):
    import time as clock

    from gnn.bridge import pipeline

    settings.TRAINING_STALE_SECONDS = 0.4  # a beat every 0.1 s
    real_evaluate = pipeline.evaluate
    beats = []

    def slow_evaluate(trained_model, split):
        started = TrainingRun.objects.get(active=True).heartbeat_at
        clock.sleep(1.0)  # an evaluation that reports no progress
        beats.append(TrainingRun.objects.get(active=True).heartbeat_at > started)
        return real_evaluate(trained_model, split)

    monkeypatch.setattr(pipeline, "evaluate", slow_evaluate)
    run = runs.training_run_local(trigger="command")
    assert beats == [True]
    assert run.status == "succeeded"

    # A run marked failed by someone else while it finished stays failed.
    def marked_dead(trained_model, split):
        TrainingRun.objects.filter(active=True).update(
            status="failed", active=None, error="taken for dead"
        )
        return real_evaluate(trained_model, split)

    monkeypatch.setattr(pipeline, "evaluate", marked_dead)
    settings.TRAINING_STALE_SECONDS = 120
    before = set(registry_versions())
    run = runs.training_run_local(trigger="command")
    assert run.status == "failed" and run.error == "taken for dead"
    assert set(registry_versions()) == before  # nothing published


def registry_versions():
    from django.conf import settings as live

    from gnn.bridge import registry

    return [info.version for info in registry.list_versions(live.MODELS_DIR)]


def test_a_web_process_looks_at_the_threshold_every_few_ratings(
    trained, member, settings, django_capture_on_commit_callbacks
):
    settings.RETRAIN_AFTER_RATINGS = 2
    settings.RETRAIN_CHECK_EVERY_RATINGS = 4
    movies = list(Movie.objects.order_by("pk")[:4])
    for movie in movies[:3]:
        with django_capture_on_commit_callbacks(execute=True):
            rating_set(user=member, movie=movie, value=4)
    # Past the threshold, but this process has not looked yet: no query spent.
    assert not TrainingRun.objects.filter(trigger="threshold").exists()
    with django_capture_on_commit_callbacks(execute=True):
        rating_set(user=member, movie=movies[3], value=4)
    assert TrainingRun.objects.filter(trigger="threshold").count() == 1


def test_the_periodic_refresh_task_queues_a_retrain_the_web_processes_have_not_seen(
    trained, member, settings
):
    from gnn.tasks import refresh_serving

    settings.RETRAIN_AFTER_RATINGS = 2
    settings.RETRAIN_CHECK_EVERY_RATINGS = 100
    for movie in Movie.objects.order_by("pk")[:3]:
        rating_set(user=member, movie=movie, value=4)
    assert not TrainingRun.objects.filter(trigger="threshold").exists()
    refresh_serving()
    assert TrainingRun.objects.filter(trigger="threshold").count() == 1


def test_a_run_keeps_its_training_curve_and_a_failed_one_what_it_reached(
    trained_committed, monkeypatch, admin_client
):
    from django.urls import reverse

    from gnn.bridge import pipeline

    run = runs.training_run_local(trigger="command")
    assert run.status == "succeeded" and len(run.curve) >= 1
    assert all({"step", "ndcg_at_10", "rmse"} <= set(check) for check in run.curve)
    steps = [check["step"] for check in run.curve]
    assert steps == sorted(steps)
    page = admin_client.get(reverse("admin:gnn_trainingrun_change", args=[run.pk]))
    assert 'data-testid="training-curve"' in page.text and "The figures as a table" in page.text

    def broken_evaluate(trained_model, split):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(pipeline, "evaluate", broken_evaluate)
    failed = runs.training_run_local(trigger="command")
    assert failed.status == "failed" and "the disk went away" in failed.error
    assert len(failed.curve) >= 1  # the checks before the failure are kept
    page = admin_client.get(reverse("admin:gnn_trainingrun_change", args=[failed.pk]))
    assert 'data-testid="training-curve"' in page.text
