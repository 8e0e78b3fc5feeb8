"""Retraining with a real Redis, a real Celery worker process and a real database."""

import threading
import time

import pytest
from django.db import connection
from django.urls import reverse

from catalog.models import Movie
from core.broker import filesystem_transport_options
from gnn.bridge import registry
from gnn.bridge.serving import get_service
from gnn.models import TrainingRun
from gnn.selectors import ListQuery, recommendations_for
from gnn.services import training_request
from ratings.models import Rating
from ratings.services import rating_set
from tests.conftest import serving
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
    assert serving() == run.published.version != trained_committed

    member.refresh_from_db()

    def served_new_version():
        get_service().wait_for_reload()
        return recommendations_for(user=member).model_version == run.published.version

    wait_for(served_new_version, timeout=30, what="the web process to serve the new version")


def test_killing_the_worker_mid_training_leaves_the_served_model_and_training_recovers(
    trained_committed, redis_broker, start_worker, settings
):
    settings.TRAINING_STALE_SECONDS = 3
    # A full retrain: a continued one would take a share of the fixture model's 30 steps.
    worker = start_worker(
        TRAINING_MAX_STEPS=100000, TRAINING_PATIENCE=100000, TRAINING_INCREMENTAL="false"
    )
    first = training_request(trigger=TrainingRun.Trigger.ADMIN)

    def mid_training():
        run = TrainingRun.objects.get(pk=first.pk)
        return run.status == "running" and run.progress.startswith("step")

    wait_for(mid_training, what=lambda: f"training to start:\n{worker.output()[-3000:]}")
    worker.kill()

    assert serving() == trained_committed
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
    assert serving() == run.published.version


def test_a_worker_killed_alone_takes_its_children_with_it(
    trained_committed, redis_broker, start_worker, settings
):
    """Found by the fault soak: kill -9 of the worker's main process left its
    embedded beat running, which went on sending the schedule beside the
    restarted worker's own (and a pool process could outlive it likewise)."""
    worker = start_worker(
        beat=True, TRAINING_MAX_STEPS=100000, TRAINING_PATIENCE=100000,
        TRAINING_INCREMENTAL="false",
    )  # fmt: skip
    run = training_request(trigger=TrainingRun.Trigger.ADMIN)
    wait_for(
        lambda: TrainingRun.objects.get(pk=run.pk).progress.startswith("step"),
        what=lambda: f"training to start:\n{worker.output()[-3000:]}",
    )
    children = worker.kill_main()
    assert len(children) >= 2, "a pool process and the beat"

    def gone(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().split()[2] == "Z"
        except FileNotFoundError:
            return True

    wait_for(lambda: all(gone(pid) for pid in children), timeout=10, what="the children to die")
    assert serving() == trained_committed


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
    assert serving() == done.published.version


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


def test_a_members_ratings_move_another_members_list_through_a_refresh_without_a_retrain(
    trained_committed, redis_broker, start_worker, settings, django_user_model
):
    """Member A's ratings reach member B's list: the refresh worker (its own
    queue) recomputes the movie states with the served weights and the web
    process swaps them in. Same version, a newer refresh, B's ratings as they were."""
    settings.REFRESH_AFTER_RATINGS = 14  # B's 2 ratings and A's 12: asked at the last
    settings.RETRAIN_AFTER_RATINGS = 10**6  # no retrain may explain the change
    settings.MODEL_CHECK_INTERVAL = 0.05
    worker = start_worker(queues="refresh")
    a = django_user_model.objects.create_user(
        username="member-a", password="x", age=40, gender="M", occupation="engineer"
    )
    b = django_user_model.objects.create_user(
        username="member-b", password="x", age=40, gender="M", occupation="engineer"
    )
    movies = list(Movie.objects.order_by("pk"))
    rating_set(user=b, movie=movies[0], value=5)
    rating_set(user=b, movie=movies[1], value=4)
    b_ratings = list(Rating.objects.filter(user=b).order_by("pk").values_list("movie_id", "value"))
    b.refresh_from_db()
    before = get_service().engine()
    served_before = {
        r.movie.pk: r.score for r in recommendations_for(user=b, query=ListQuery(n=20)).items
    }
    loved = movies[-12:]  # movies B has not rated: A loves them all

    for movie in loved:
        rating_set(user=a, movie=movie, value=5)

    def refreshed():
        get_service().wait_for_reload()
        engine = get_service().engine()
        return engine if engine.refresh != before.refresh else None

    after = wait_for(refreshed, timeout=60, what=lambda: f"a refresh:\n{worker.output()[-3000:]}")
    assert after.version == before.version == serving()
    assert after.refresh > before.refresh
    assert after.refresh_info.data.ratings == before.refresh_info.data.ratings + 14
    assert not TrainingRun.objects.filter(trigger=TrainingRun.Trigger.THRESHOLD).exists()
    b.refresh_from_db()
    assert (
        list(Rating.objects.filter(user=b).order_by("pk").values_list("movie_id", "value"))
        == b_ratings
    )
    rated = [(m, v) for m, v in b_ratings]
    rows = [after.movie_row[m.pk] for m in loved]
    # The movies A rated score differently for B, who did nothing.
    assert (before.scores(b, rated)[rows] != after.scores(b, rated)[rows]).all()
    served_after = recommendations_for(user=b, query=ListQuery(n=20))
    assert not served_after.cached  # the cached list was keyed by the old refresh
    assert {r.movie.pk: r.score for r in served_after.items} != served_before


WEB_PROCESS = """
import sys, django
django.setup()
import recommender.urls  # every view, as a web process loads them
from django.test import Client
from accounts.models import User
from gnn.selectors import recommendations_for
result = recommendations_for(user=User.objects.get(username="alice"))
client = Client()
client.force_login(User.objects.get(username="alice"))
page = client.get("/")
print(result.source, len(result.items), page.status_code,
      "torch" in sys.modules, "torch_geometric" in sys.modules)
"""


def test_a_web_process_serves_the_model_without_torch(trained_committed, member, settings):
    """A fresh process that loads the URLconf, the admin and the engine, and
    serves a member's recommendations and home page, never imports torch."""
    import os
    import subprocess
    import sys

    from tests.e2e.conftest import ROOT, database_url

    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "recommender.settings",
        "DEBUG": "true",  # static files without collectstatic's manifest
        "SECRET_KEY": "web-test-key",
        "READ_DOTENV": "false",
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": database_url(),
        "DATA_DIR": str(settings.DATA_DIR),
        "MODELS_DIR": str(settings.MODELS_DIR),
    }
    done = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-5:] == ["model", "10", "200", "False", "False"]
