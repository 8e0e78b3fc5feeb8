"""Recording events (from requests: one queue push, never a database write)
and moving them into the database (the flusher)."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from functools import cache as once

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone

from catalog.models import Movie
from core import metrics
from core.ratelimit import hit
from events.models import Impression, Outcome, OutcomeKind, Surface
from events.queue import QueueUnavailable, RedisQueue, SpoolQueue

log = logging.getLogger("events")

BATCH = 2000
SHOWN_LIMIT = 500  # movies remembered per member for attribution


@once
def _redis(url: str) -> RedisQueue:
    return RedisQueue(url)


def primary_queue() -> RedisQueue | SpoolQueue:
    url = settings.EVENTS_QUEUE_URL
    return _redis(url) if url else spool()


def spool() -> SpoolQueue:
    return SpoolQueue(settings.DATA_DIR / "events")


def _push(kind: str, event: dict) -> bool:
    """Queue one event; False (counted) when it could not be kept."""
    line = json.dumps(event, separators=(",", ":")).encode()
    queue = primary_queue()
    try:
        queue.push(line)
        metrics.EVENTS.labels(kind, "queued").inc()
        return True
    except QueueUnavailable as exc:
        if isinstance(queue, SpoolQueue):
            return _lost(kind, exc)
        log.warning("events queue unavailable (%s); spooling to disk", exc)
    try:
        spool().push(line)
        metrics.EVENTS.labels(kind, "spooled").inc()
        return True
    except QueueUnavailable as exc:
        return _lost(kind, exc)


def _lost(kind: str, exc: Exception) -> bool:
    metrics.EVENTS.labels(kind, "lost").inc()
    log.error("an event could not be kept (%s): counted as lost", exc)
    return False


def _allowed(kind: str, user_id: int) -> bool:
    """Per-member bound: one client cannot flood the events."""
    if hit("events", str(user_id), settings.EVENTS_RATE):
        metrics.EVENTS.labels(kind, "refused").inc()
        return False
    return True


def impression_record(
    *, user, surface: str, movie_ids: list[int], version: str = "", arm: str = "",
    experiment_id: int | None = None, teams: list[str] | None = None,
) -> str | None:  # fmt: skip
    """A list shown to a member: its list id (for the cards' links), or None
    when nothing is recorded (a visitor, an empty list, the member's bound)."""
    if not getattr(user, "is_authenticated", False) or not movie_ids:
        return None
    if surface not in Surface.values:
        raise ValueError(f"unknown surface {surface!r}")
    if not _allowed("impression", user.pk):
        return None
    list_id = str(uuid.uuid4())
    event = {
        "t": "impression", "id": list_id, "user": user.pk, "at": timezone.now().isoformat(),
        "surface": surface, "version": version or "", "arm": arm or "",
        "experiment": experiment_id, "movies": [int(m) for m in movie_ids], "teams": teams,
    }  # fmt: skip
    if not _push("impression", event):
        return None
    _remember_shown(user.pk, list_id, movie_ids)
    return list_id


def outcome_record(
    *, user, movie_id: int, kind: str, value: int | None = None,
    list_id: str | None = None, position: int | None = None,
) -> bool:  # fmt: skip
    """A member's action on a movie. Without a list id, the latest list
    that showed the movie within the attribution window is credited."""
    if not getattr(user, "is_authenticated", False):
        return False
    if kind not in OutcomeKind.values:
        raise ValueError(f"unknown outcome {kind!r}")
    if list_id is None:
        list_id, shown_at = _shown(user.pk).get(str(movie_id), (None, None))
        position = position or shown_at
    if not _allowed("outcome", user.pk):
        return False
    event = {
        "t": "outcome", "id": str(uuid.uuid4()), "user": user.pk,
        "at": timezone.now().isoformat(), "movie": int(movie_id), "kind": kind,
        "value": value, "list": list_id, "position": position,
    }  # fmt: skip
    return _push("outcome", event)


def _shown_key(user_id: int) -> str:
    return f"events:shown:{user_id}"


def _shown(user_id: int) -> dict[str, tuple[str, int]]:
    return cache.get(_shown_key(user_id)) or {}


def _remember_shown(user_id: int, list_id: str, movie_ids: list[int]) -> None:
    """Which list last showed each movie, at which position: a later action
    on the movie is credited to it. In the cache (shared by web processes),
    for the attribution window; a cache that is down only loses the credit."""
    shown = _shown(user_id)
    for position, movie_id in enumerate(movie_ids, start=1):
        shown.pop(str(movie_id), None)
        shown[str(movie_id)] = (list_id, position)
    while len(shown) > SHOWN_LIMIT:
        shown.pop(next(iter(shown)))
    cache.set(_shown_key(user_id), shown, settings.EVENTS_ATTRIBUTION_HOURS * 3600)


# --- The flusher ----------------------------------------------------------------


def events_flush() -> dict[str, int]:
    """Move every waiting event into the database: the spool's, then the
    Redis list's. Returns counts: written, discarded (their member or movie
    was deleted meanwhile: deleted with them, as intended), rejected
    (unreadable lines, kept aside in the spool folder), skipped (another
    flush holds the lock)."""
    counts = {"written": 0, "discarded": 0, "rejected": 0, "skipped": 0}
    folder = spool()
    with folder.flush_lock() as held:
        if not held:
            counts["skipped"] = 1
            return counts
        with folder.batches() as taken:
            for _path, lines in taken:
                for start in range(0, len(lines), BATCH):
                    _write(lines[start : start + BATCH], counts)
        url = settings.EVENTS_QUEUE_URL
        if url:
            queue = _redis(url)
            with queue.flush_lock() as redis_held:
                while redis_held:
                    lines = queue.take(BATCH)
                    if not lines:
                        break
                    _write(lines, counts)
                    queue.done(len(lines))
    return counts


def _write(lines: list[bytes], counts: dict[str, int]) -> None:
    impressions, outcomes, bad = [], [], []
    for line in lines:
        try:
            event = json.loads(line)
            if event["t"] == "impression":
                impressions.append(event)
            elif event["t"] == "outcome":
                outcomes.append(event)
            else:
                raise ValueError(event["t"])
        except (ValueError, KeyError, TypeError):
            bad.append(line)
    if bad:
        _reject(bad, counts)
    users = set(
        get_user_model()
        .objects.filter(pk__in={e["user"] for e in impressions + outcomes})
        .values_list("pk", flat=True)
    )
    movies = set(
        Movie.objects.filter(pk__in={e["movie"] for e in outcomes}).values_list("pk", flat=True)
    )
    rows_i = [
        Impression(
            id=e["id"],
            user_id=e["user"],
            surface=e["surface"],
            version=e["version"],
            arm=e["arm"],
            experiment_id=e.get("experiment"),
            teams=e.get("teams"),
            movie_ids=e["movies"],
            created_at=datetime.fromisoformat(e["at"]),
        )
        for e in impressions
        if e["user"] in users
    ]
    rows_o = [
        Outcome(
            id=e["id"],
            user_id=e["user"],
            movie_id=e["movie"],
            kind=e["kind"],
            value=e.get("value"),
            list_id=e.get("list"),
            position=e.get("position"),
            created_at=datetime.fromisoformat(e["at"]),
        )
        for e in outcomes
        if e["user"] in users and e["movie"] in movies
    ]
    Impression.objects.bulk_create(rows_i, ignore_conflicts=True)
    Outcome.objects.bulk_create(rows_o, ignore_conflicts=True)
    written = len(rows_i) + len(rows_o)
    discarded = len(impressions) + len(outcomes) - written
    counts["written"] += written
    counts["discarded"] += discarded
    metrics.EVENTS.labels("any", "written").inc(written)
    if discarded:
        metrics.EVENTS.labels("any", "discarded").inc(discarded)


def _reject(lines: list[bytes], counts: dict[str, int]) -> None:
    """Unreadable lines are kept aside, counted and logged: never dropped."""
    folder = spool().folder
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "rejected.jsonl", "ab") as file:
        file.write(b"\n".join(lines) + b"\n")
    counts["rejected"] += len(lines)
    metrics.EVENTS.labels("any", "rejected").inc(len(lines))
    log.error("%d unreadable event line(s) kept in %s", len(lines), folder / "rejected.jsonl")


def events_pending() -> int:
    url = settings.EVENTS_QUEUE_URL
    return spool().pending() + (_redis(url).pending() if url else 0)


def events_delete_expired(*, now=None) -> int:
    """Events older than EVENTS_RETENTION_DAYS go (0 keeps them for ever)."""
    days = settings.EVENTS_RETENTION_DAYS
    if not days:
        return 0
    before = (now or timezone.now()) - timedelta(days=days)
    removed, _ = Impression.objects.filter(created_at__lt=before).delete()
    gone, _ = Outcome.objects.filter(created_at__lt=before).delete()
    return removed + gone
