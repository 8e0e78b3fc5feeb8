"""Impressions and outcomes: recorded off the request path, nothing lost
silently (Redis, the spool, a process killed), tied back to their lists,
following the member (download, deletion) and the retention setting."""

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.urls import reverse
from django.utils import timezone

from catalog.models import Movie
from core import metrics
from events.models import Impression, Outcome, Surface
from events.services import (
    events_delete_expired,
    events_flush,
    events_pending,
    impression_record,
    outcome_record,
)
from ratings.services import dismissal_add, rating_set, watchlist_add

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]


def counted(kind: str, outcome: str) -> float:
    return metrics.EVENTS.labels(kind, outcome)._value.get()


@pytest.fixture
def redis_queue(settings):
    client = redis.Redis.from_url(REDIS_URL)
    client.delete("events:queue", "events:flush-lock")
    settings.EVENTS_QUEUE_URL = REDIS_URL
    yield client
    client.delete("events:queue", "events:flush-lock")


def test_a_list_shown_and_acted_on_is_tied_together_after_a_flush(
    seeded, member, django_capture_on_commit_callbacks
):
    movies = list(Movie.objects.order_by("pk")[:5])
    list_id = impression_record(
        user=member, surface=Surface.PANEL, movie_ids=[m.pk for m in movies], version="v1"
    )
    assert Impression.objects.count() == 0  # nothing written on the request path
    with django_capture_on_commit_callbacks(execute=True):
        rating_set(user=member, movie=movies[2], value=5)
        watchlist_add(user=member, movie=movies[0])
        dismissal_add(user=member, movie=movies[4])
    unshown = Movie.objects.exclude(pk__in=[m.pk for m in movies]).first()
    with django_capture_on_commit_callbacks(execute=True):
        rating_set(user=member, movie=unshown, value=2)
    assert events_pending() == 5

    assert events_flush()["written"] == 5
    shown = Impression.objects.get()
    assert (str(shown.id), shown.surface, shown.version) == (list_id, "panel", "v1")
    assert shown.movie_ids == [m.pk for m in movies]
    outcomes = {(o.movie_id, o.kind): o for o in Outcome.objects.all()}
    rated = outcomes[(movies[2].pk, "rating")]
    assert (str(rated.list_id), rated.position, rated.value) == (list_id, 3, 5)
    assert outcomes[(movies[0].pk, "watchlist")].position == 1
    assert outcomes[(movies[4].pk, "dismiss")].position == 5
    assert outcomes[(unshown.pk, "rating")].list_id is None  # shown by no list
    assert events_pending() == 0 and events_flush()["written"] == 0


def test_the_panel_records_what_it_shows_and_a_card_link_records_the_opening(
    client, trained, member
):
    client.force_login(member)
    home = client.get(reverse("home"))
    second = home.context["recommendations"].items[1].movie
    link = f"{reverse('catalog:detail', args=[second.pk])}?via=panel&amp;pos=2"
    assert link in home.text
    client.get(link.replace("&amp;", "&"))
    client.get(reverse("catalog:detail", args=[second.pk]), {"via": "panel", "pos": "x"})
    events_flush()
    panel = Impression.objects.get(surface="panel")
    assert panel.movie_ids[1] == second.pk and panel.version == trained
    opened = Outcome.objects.get(kind="open")  # the hand-edited link recorded nothing
    assert (opened.list_id, opened.position, opened.movie_id) == (panel.id, 2, second.pk)
    # The movie page showed its similar movies: an impression of its own.
    assert Impression.objects.filter(surface="similar").count() == 2


def test_the_api_and_the_htmx_panel_record_an_impression_per_answer_cached_or_not(
    client, trained, member, auth
):
    for _ in range(2):
        client.get(f"/api/recommendations/{member.pk}", {"n": 5}, **auth)
    client.force_login(member)
    for _ in range(2):
        client.get(reverse("recommendations"), headers={"HX-Request": "true"})
    events_flush()
    assert Impression.objects.filter(surface="api").count() == 2
    assert Impression.objects.filter(surface="panel").count() == 2
    lists = {tuple(i.movie_ids) for i in Impression.objects.filter(surface="api")}
    assert len(lists) == 1 and len(next(iter(lists))) == 5


def test_events_go_through_redis_and_to_the_spool_when_redis_does_not_answer(
    seeded, member, redis_queue, settings
):
    movie_ids = list(Movie.objects.values_list("pk", flat=True)[:3])
    impression_record(user=member, surface=Surface.API, movie_ids=movie_ids)
    assert redis_queue.llen("events:queue") == 1

    settings.EVENTS_QUEUE_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    spooled = counted("impression", "spooled")
    assert impression_record(user=member, surface=Surface.API, movie_ids=movie_ids)
    assert counted("impression", "spooled") == spooled + 1

    settings.EVENTS_QUEUE_URL = REDIS_URL
    counts = events_flush()
    assert counts["written"] == 2 and Impression.objects.count() == 2
    assert redis_queue.llen("events:queue") == 0


def test_an_event_that_cannot_be_kept_is_counted_and_the_request_goes_on(
    seeded, member, settings, tmp_path
):
    (tmp_path / "not-a-folder").write_text("")
    settings.DATA_DIR = tmp_path / "not-a-folder"  # the spool cannot be made
    lost = counted("impression", "lost")
    assert impression_record(user=member, surface=Surface.API, movie_ids=[1, 2]) is None
    assert counted("impression", "lost") == lost + 1


def test_events_queued_by_a_process_killed_with_sigkill_are_all_written(
    seeded, member, settings, redis_queue
):
    """Nothing waits in a web process's memory: a process that queues events
    and dies by SIGKILL leaves every one of them to the flusher (Redis here;
    the spool the same way, in the next test's threads)."""
    movie_ids = list(Movie.objects.values_list("pk", flat=True)[:10])
    script = f"""
import os, signal, django
os.environ["DJANGO_SETTINGS_MODULE"] = "recommender.settings_test"
django.setup()
from types import SimpleNamespace
from events.services import impression_record
member = SimpleNamespace(pk={member.pk}, is_authenticated=True)
for _ in range(50):
    assert impression_record(user=member, surface="panel", movie_ids={movie_ids})
os.kill(os.getpid(), signal.SIGKILL)
"""
    env = {**os.environ, "EVENTS_QUEUE_URL": REDIS_URL, "DATA_DIR": str(settings.DATA_DIR)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, timeout=120)
    assert done.returncode == -signal.SIGKILL
    assert events_flush()["written"] == 50
    assert Impression.objects.filter(user=member).count() == 50


def test_writers_racing_a_flusher_on_the_spool_lose_nothing(seeded_committed, member):
    # Committed: the flusher's thread has a database connection of its own.
    movie_ids = list(Movie.objects.values_list("pk", flat=True)[:5])
    stop = threading.Event()
    flushed = []

    def write(n):
        for _ in range(n):
            assert impression_record(user=member, surface=Surface.PANEL, movie_ids=movie_ids)

    def flush():
        while not stop.is_set():
            flushed.append(events_flush()["written"])

    writers = [threading.Thread(target=write, args=(150,)) for _ in range(4)]
    flusher = threading.Thread(target=flush)
    flusher.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    flusher.join()
    flushed.append(events_flush()["written"])
    assert sum(flushed) == 600 and Impression.objects.count() == 600


def test_a_deleted_members_events_go_with_them_even_those_still_queued(
    client, seeded, member, django_user_model
):
    movie_ids = list(Movie.objects.values_list("pk", flat=True)[:3])
    impression_record(user=member, surface=Surface.PANEL, movie_ids=movie_ids)
    events_flush()
    impression_record(user=member, surface=Surface.PANEL, movie_ids=movie_ids)
    outcome_record(user=member, movie_id=movie_ids[0], kind="open", position=1)
    member.delete()
    counts = events_flush()
    assert counts == {"written": 0, "discarded": 2, "rejected": 0, "skipped": 0}
    assert not Impression.objects.exists() and not Outcome.objects.exists()


def test_the_data_download_carries_the_members_events(client, seeded, member):
    movie_ids = list(Movie.objects.values_list("pk", flat=True)[:3])
    list_id = impression_record(user=member, surface=Surface.PANEL, movie_ids=movie_ids)
    outcome_record(user=member, movie_id=movie_ids[1], kind="open", position=2)
    events_flush()
    client.force_login(member)
    data = json.loads(client.get(reverse("accounts:data_download")).content)
    assert data["events"]["impressions"][0]["list_id"] == list_id
    assert data["events"]["impressions"][0]["movie_ids"] == movie_ids
    opened = data["events"]["outcomes"][0]
    assert (opened["kind"], opened["list_id"], opened["position"]) == ("open", list_id, 2)


def test_retention_deletes_old_events_and_a_member_cannot_flood_them(seeded, member, settings):
    movie_ids = list(Movie.objects.values_list("pk", flat=True)[:3])
    old = Impression.objects.create(
        user=member, surface="panel", movie_ids=movie_ids,
        created_at=timezone.now() - timedelta(days=400),
    )  # fmt: skip
    Impression.objects.create(user=member, surface="panel", movie_ids=movie_ids)
    settings.EVENTS_RETENTION_DAYS = 365
    assert events_delete_expired() == 1
    assert not Impression.objects.filter(pk=old.pk).exists()

    settings.EVENTS_RATE = "3/60"
    refused = counted("impression", "refused")
    kept = [
        impression_record(user=member, surface=Surface.PANEL, movie_ids=movie_ids) for _ in range(5)
    ]
    assert sum(k is not None for k in kept) == 3
    assert counted("impression", "refused") == refused + 2


def test_an_unreadable_line_is_kept_aside_and_counted_not_dropped(seeded, member, settings):
    folder = settings.DATA_DIR / "events"
    folder.mkdir(parents=True)
    good = {
        "t": "impression", "id": str(uuid.uuid4()), "user": member.pk,
        "at": timezone.now().isoformat(), "surface": "panel", "version": "", "arm": "",
        "experiment": None, "movies": [1],
    }  # fmt: skip
    (folder / "spool-elsewhere-1.jsonl").write_bytes(json.dumps(good).encode() + b"\n{broken\n")
    counts = events_flush()
    assert (counts["written"], counts["rejected"]) == (1, 1)
    assert (folder / "rejected.jsonl").read_bytes() == b"{broken\n"
