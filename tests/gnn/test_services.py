"""Training runs without a worker: claims, staleness, the threshold and the schedule."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Movie
from gnn import services
from gnn.models import TrainingRun
from gnn.tasks import scheduled_retrain
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
    monkeypatch.setattr("gnn.edge.pipeline.train_from_database", _fake_training)
    first = services.training_run_execute(run_id=run.pk)
    second = services.training_run_execute(run_id=run.pk)
    assert first is not None and first.pk == run.pk
    assert second is None


def _fake_training(**_):
    raise RuntimeError("simulated failure")


def test_a_failing_run_is_marked_failed_and_frees_the_slot(trained, monkeypatch):
    monkeypatch.setattr("gnn.edge.pipeline.train_from_database", _fake_training)
    run = TrainingRun.objects.create(trigger="admin")
    services.training_run_execute(run_id=run.pk)
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
    assert services.ratings_since_snapshot() == 2
    assert not TrainingRun.objects.filter(trigger="threshold").exists()

    rating_set(user=member, movie=movies[2], value=4)
    run = services.retrain_if_due()

    assert run is not None and run.trigger == "threshold"
    assert services.retrain_if_due() is None  # one at a time
    assert TrainingRun.objects.filter(active=True).count() == 1


def test_the_schedule_is_off_by_default_and_starts_a_scheduled_run(db, settings):
    from recommender.settings import CELERY_BEAT_SCHEDULE

    assert CELERY_BEAT_SCHEDULE == {}
    scheduled_retrain()
    assert TrainingRun.objects.get().trigger == "schedule"
