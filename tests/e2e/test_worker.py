"""Retraining with a real Redis, a real Celery worker process and a real database."""

import threading
import time

import pytest
from django.db import connection
from django.urls import reverse

from catalog.models import Movie
from core.broker import filesystem_transport_options
from gnn.edge import registry
from gnn.edge.serving import get_service
from gnn.models import TrainingRun
from gnn.selectors import recommendations_for
from gnn.services import training_request
from ratings.models import Rating
from ratings.services import rating_set
from tests.e2e.conftest import broker, wait_for

pytestmark = pytest.mark.worker


def succeeded(run_id):
    run = TrainingRun.objects.get(pk=run_id)
    if run.status == TrainingRun.Status.FAILED:
        raise AssertionError(f"run failed: {run.error}")
    return run if run.status == TrainingRun.Status.SUCCEEDED else None


def test_concurrent_ratings_crossing_the_threshold_train_exactly_once_and_are_served(
    trained_committed, redis_broker, start_worker, settings, django_user_model
):
    settings.RETRAIN_AFTER_RATINGS = 10
    settings.MODEL_CHECK_INTERVAL = 0.05
    worker = start_worker(TRAINING_MAX_STEPS=60)
    member = django_user_model.objects.create_user(
        username="rater", password="x", age=25, gender="F", occupation="student"
    )
    assert recommendations_for(user=member).model_version == trained_committed
    movies = list(Movie.objects.order_by("pk")[:20])
    barrier = threading.Barrier(len(movies))
    failures = []

    def rate(movie):
        try:
            barrier.wait()
            rating_set(user=member, movie=movie, value=4)
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=rate, args=(movie,)) for movie in movies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not failures
    assert Rating.objects.filter(user=member).count() == 20
    runs = TrainingRun.objects.filter(trigger=TrainingRun.Trigger.THRESHOLD)
    assert runs.count() == 1
    run = wait_for(
        lambda: succeeded(runs.get().pk), what=lambda: f"the run:\n{worker.output()[-3000:]}"
    )
    assert registry.current_version(settings.MODELS_DIR) == run.version != trained_committed

    member.refresh_from_db()

    def served_new_version():
        get_service().wait_for_reload()
        return recommendations_for(user=member).model_version == run.version

    wait_for(served_new_version, timeout=30, what="the web process to serve the new version")


def test_killing_the_worker_mid_training_leaves_the_served_model_and_training_recovers(
    trained_committed, redis_broker, start_worker, settings
):
    settings.TRAINING_STALE_SECONDS = 3
    worker = start_worker(TRAINING_MAX_STEPS=100000, TRAINING_PATIENCE=100000)
    first = training_request(trigger=TrainingRun.Trigger.ADMIN)

    def mid_training():
        run = TrainingRun.objects.get(pk=first.pk)
        return run.status == "running" and run.progress.startswith("step")

    wait_for(mid_training, what=lambda: f"training to start:\n{worker.output()[-3000:]}")
    worker.kill()

    assert registry.current_version(settings.MODELS_DIR) == trained_committed
    registry.load_version(settings.MODELS_DIR, trained_committed)
    assert len(registry.list_versions(settings.MODELS_DIR)) == 1

    time.sleep(settings.TRAINING_STALE_SECONDS + 1)
    start_worker(TRAINING_MAX_STEPS=40)
    second = training_request(trigger=TrainingRun.Trigger.ADMIN)

    assert second is not None
    first.refresh_from_db()
    assert first.status == "failed"
    assert "stopped reporting progress" in first.error
    run = wait_for(lambda: succeeded(second.pk), what="the second run")
    assert registry.current_version(settings.MODELS_DIR) == run.version


def test_the_embedded_filesystem_broker_runs_a_real_task_end_to_end(
    trained_committed, start_worker, settings
):
    options = filesystem_transport_options(settings.DATA_DIR / "celery-broker")
    with broker("filesystem://", options):
        worker = start_worker("filesystem://", TRAINING_MAX_STEPS=40)
        run = training_request(trigger=TrainingRun.Trigger.ADMIN)
        done = wait_for(
            lambda: succeeded(run.pk),
            what=lambda: f"the run through the filesystem broker:\n{worker.output()[-3000:]}",
        )
    assert registry.current_version(settings.MODELS_DIR) == done.version


def test_with_the_broker_down_a_rating_is_saved_fast_and_the_retrain_is_sent_later(
    trained_committed, redis_broker, settings, member
):
    settings.RETRAIN_AFTER_RATINGS = 1
    first, second = Movie.objects.order_by("pk")[:2]
    with broker("redis://127.0.0.1:1/0"):  # nothing listens on port 1
        started = time.perf_counter()
        rating_set(user=member, movie=first, value=5)
        elapsed = time.perf_counter() - started

    assert elapsed < 1.0
    assert Rating.objects.filter(user=member, movie=first, value=5).exists()
    pending = TrainingRun.objects.get(active=True)
    assert pending.status == "queued" and pending.sent_at is None
    assert redis_broker.llen("training") == 0

    rating_set(user=member, movie=second, value=3)  # the broker is back

    pending.refresh_from_db()
    assert pending.sent_at is not None
    assert redis_broker.llen("training") == 1
    assert TrainingRun.objects.count() == 2  # the fixture's run and this one


def test_admin_retrain_now_queues_one_run_and_twice_does_not_start_two(
    client, staff, redis_broker, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    url = reverse("admin:gnn_trainingrun_retrain")

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(url, follow=True)

    assert "is queued" in first.text
    assert "already queued or running" in second.text
    assert TrainingRun.objects.filter(trigger="admin").count() == 1
    assert redis_broker.llen("training") == 1
    assert "Retrain now" in client.get(reverse("admin:gnn_trainingrun_changelist")).text


def test_retrain_now_is_staff_only(client, member, db):
    client.force_login(member)
    response = client.post(reverse("admin:gnn_trainingrun_retrain"))
    assert response.status_code == 302
    assert not TrainingRun.objects.exists()


def test_the_request_id_of_a_rating_reaches_the_log_of_the_task_it_enqueued(
    trained_committed, redis_broker, start_worker, settings, client, member
):
    settings.RETRAIN_AFTER_RATINGS = 1
    worker = start_worker(TRAINING_MAX_STEPS=30, LOG_FORMAT="json")
    client.force_login(member)
    movie = Movie.objects.order_by("pk").first()

    response = client.post(
        reverse("ratings:rate", args=[movie.pk]),
        {"value": "5"},
        HTTP_HX_REQUEST="true",
        HTTP_X_REQUEST_ID="rating-request-42",
    )

    assert response["X-Request-ID"] == "rating-request-42"
    run = TrainingRun.objects.get(trigger=TrainingRun.Trigger.THRESHOLD)
    wait_for(lambda: succeeded(run.pk), what=lambda: worker.output()[-3000:])
    task_lines = [
        line for line in worker.output().splitlines()
        if '"logger": "gnn.training"' in line and f"training run {run.pk}" in line
    ]  # fmt: skip
    assert task_lines
    assert all('"request_id": "rating-request-42"' in line for line in task_lines)
