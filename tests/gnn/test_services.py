"""Training runs without a worker: claims, staleness, the threshold and the schedule."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Movie
from gnn import services
from gnn.models import TrainingRun
from ratings.selectors import ratings_written_since
from ratings.services import rating_set

pytestmark = pytest.mark.usefixtures("no_broker")
_REAL_SEND = services._send


def test_the_database_allows_only_one_active_run(db):
    TrainingRun.objects.create(trigger="admin")
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingRun.objects.create(trigger="threshold")


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


def _rate(member, movies, value=4):
    for movie in movies:
        rating_set(user=member, movie=movie, value=value)


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


def test_a_queued_run_whose_message_was_lost_is_handed_over_again(db, settings, monkeypatch):
    """A broker restarted without persistence loses the queued run's message:
    the next look at the threshold sends it again, once it is overdue."""
    sent = []
    monkeypatch.setattr(services, "_send", _REAL_SEND)
    monkeypatch.setattr(
        services, "_send_task", lambda name, args=(), failed="": sent.append(args) or True
    )
    settings.TRAINING_RESEND_SECONDS = 60
    run = TrainingRun.objects.create(trigger="admin", sent_at=timezone.now())
    assert services.retrain_if_due() is None
    assert sent == []  # just sent: a worker may be about to claim it
    TrainingRun.objects.filter(pk=run.pk).update(sent_at=timezone.now() - timedelta(seconds=61))
    assert services.retrain_if_due() is None
    assert sent == [[run.pk]]
    run.refresh_from_db()
    assert run.sent_at > timezone.now() - timedelta(seconds=5)
