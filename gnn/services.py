"""Retraining: when to train, one run at a time, and what a run records.

The decision lives in the database: the number of ratings written since the
latest run (whatever its outcome; before any run, since the served model's
data snapshot), and at most one active TrainingRun (a unique constraint).
After consecutive failed runs the threshold waits longer and longer
(RETRAIN_FAILURE_BACKOFF_SECONDS, doubling, at most 6 hours); after a
curator's rollback it waits for the curator (AutoRetraining). The broker only
carries the run's id; if it is unreachable the run stays pending and is
handed over again at the next rating.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services import user_taste_changed
from core.observability import current_request_id
from gnn.bridge import registry
from gnn.bridge.state import process_state
from gnn.models import AutoRetraining, TrainingRun
from ratings.selectors import ratings_written_since

log = logging.getLogger("gnn.training")

Status = TrainingRun.Status
Trigger = TrainingRun.Trigger

# After a failed hand-over, skip the broker for a while so that rating writes
# do not each wait for its connection timeout.
_BROKER_BACKOFF_SECONDS = 10.0
_broker_lock = threading.Lock()


class RunAborted(Exception):
    """The run was marked failed elsewhere (stale); stop training."""


# --- When to train --------------------------------------------------------


def served_snapshot_at() -> datetime | None:
    """The data snapshot time of the version `current` points at, if any
    (the registry parses its metadata once; this runs after every rating)."""
    served = registry.served(settings.MODELS_DIR)
    return served.snapshot_at if served else None


def retrain_count_rating() -> TrainingRun | None:
    """Count a committed rating; on every RETRAIN_CHECK_EVERY_RATINGS-th in
    this process, see whether a retrain is due. The count lives in the
    process, so the ratings in between cost no query."""
    process_state.ratings_since_retrain_check += 1
    if process_state.ratings_since_retrain_check < settings.RETRAIN_CHECK_EVERY_RATINGS:
        return None
    process_state.ratings_since_retrain_check = 0
    return retrain_if_due()


def retrain_if_due() -> TrainingRun | None:
    """Queue a threshold retrain when enough ratings came since the served
    snapshot; four indexed reads when nothing is due, and no write."""
    active = TrainingRun.objects.filter(active=True).first()
    if active is not None:
        if not run_is_stale(active):
            if active.status == Status.QUEUED and _hand_over_lost(active):
                _send(active.pk)  # a worker claims a run once: sending twice is harmless
            return None
        expire_stale_runs()
    if AutoRetraining.objects.filter(pk=1, paused_at__isnull=False).exists():
        return None
    recent = _recent_runs()
    if _backoff_until(recent) > timezone.now():
        return None
    threshold = settings.RETRAIN_AFTER_RATINGS
    if ratings_written_since(since=_counting_from(recent), limit=threshold) < threshold:
        return None
    return training_request(trigger=Trigger.THRESHOLD)


_MAX_BACKOFF = timedelta(hours=6)


def _hand_over_lost(run: TrainingRun) -> bool:
    """A queued run never handed to the broker, or handed over and not started
    within TRAINING_RESEND_SECONDS: its message was lost (a broker restarted
    without persistence, say), and without sending it again retraining would
    wait for the run to be taken for dead (TRAINING_QUEUED_STALE_SECONDS)."""
    if run.sent_at is None:
        return True
    return run.sent_at < timezone.now() - timedelta(seconds=settings.TRAINING_RESEND_SECONDS)


def _recent_runs() -> list[TrainingRun]:
    return list(TrainingRun.objects.filter(active=None).order_by("-created_at", "-pk")[:10])


def _counting_from(recent: list[TrainingRun]) -> datetime | None:
    if not recent:
        return served_snapshot_at()
    latest = recent[0]
    return latest.snapshot_at or latest.started_at or latest.created_at


def _consecutive_failures(recent: list[TrainingRun]) -> int:
    count = 0
    for run in recent:
        if run.status != Status.FAILED:
            break
        count += 1
    return count


def _backoff_until(recent: list[TrainingRun]) -> datetime:
    failures = _consecutive_failures(recent)
    if not failures:
        return timezone.now() - timedelta(seconds=1)
    wait = timedelta(seconds=settings.RETRAIN_FAILURE_BACKOFF_SECONDS * 2 ** (failures - 1))
    latest = recent[0]
    return (latest.finished_at or latest.created_at) + min(wait, _MAX_BACKOFF)


def retraining_status() -> str:
    """What automatic retraining will do next, in a sentence (for the admin)."""
    state = AutoRetraining.current()
    if state.paused_at:
        when = timezone.localtime(state.paused_at).strftime("%Y-%m-%d %H:%M")
        return f"Automatic retraining is paused since {when}: {state.reason}"
    recent = _recent_runs()
    failures = _consecutive_failures(recent)
    until = _backoff_until(recent)
    threshold = settings.RETRAIN_AFTER_RATINGS
    written = ratings_written_since(since=_counting_from(recent), limit=threshold)
    text = f"Automatic retraining is on: {written} of {threshold} new ratings."
    if failures and until > timezone.now():
        when = timezone.localtime(until).strftime("%Y-%m-%d %H:%M")
        text += f" The last {failures} run(s) failed: the next waits until {when}."
    return text


def retraining_pause(*, reason: str) -> None:
    AutoRetraining.objects.update_or_create(
        pk=1, defaults={"paused_at": timezone.now(), "reason": reason[:200]}
    )
    log.info("automatic retraining paused: %s", reason)


def retraining_resume() -> None:
    AutoRetraining.objects.update_or_create(pk=1, defaults={"paused_at": None, "reason": ""})
    log.info("automatic retraining resumed")


def training_request(*, trigger: str) -> TrainingRun | None:
    """Queue a run unless one is queued or running; None if one already is.

    The run is handed to the broker after the surrounding transaction commits.
    """
    expire_stale_runs()
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(trigger=trigger)
    except IntegrityError:
        return None
    log.info("training run %s queued (trigger: %s)", run.pk, trigger)
    transaction.on_commit(lambda: _send(run.pk))
    return run


def _send(run_id: int) -> bool:
    if not _send_task(
        "gnn.tasks.train_model", args=[run_id], failed=f"training run {run_id} stays pending"
    ):
        return False
    TrainingRun.objects.filter(pk=run_id, status=Status.QUEUED).update(sent_at=timezone.now())
    return True


# --- A member's lists ------------------------------------------------------


def recommendations_refresh(*, user) -> None:
    """Recompute the member's lists at their next request: their taste version
    moves, and every cached list and answer is keyed by it."""
    user_taste_changed(user_id=user.pk)
    user.taste_version += 1


# --- Refreshing the serving arrays ------------------------------------------


def refresh_count_rating() -> bool:
    """Count a committed rating; every REFRESH_AFTER_RATINGS of them in this
    process, ask a worker for a refresh (True when asked). No query: the
    count lives in the process, the hand-over is one broker publish."""
    process_state.ratings_since_refresh += 1
    if process_state.ratings_since_refresh < settings.REFRESH_AFTER_RATINGS:
        return False
    if refresh_request():
        process_state.ratings_since_refresh = 0
        return True
    return False  # the broker is down: the next rating asks again


def refresh_request() -> bool:
    """Queue a refresh of the served version's serving arrays (the worker
    skips it when nothing changed since the latest one)."""
    return _send_task("gnn.tasks.refresh_serving", failed="refresh not queued")


def refresh_is_due() -> bool:
    """Whether the served version's latest refresh misses a rating or a
    catalogue change (two indexed reads)."""
    from gnn.bridge.snapshot import catalogue_stamp

    served = registry.served(settings.MODELS_DIR)
    if served is None:
        return False
    info = registry.serving_info(settings.MODELS_DIR, served.version)
    if info is None or info.snapshot_at is None:
        return True
    if ratings_written_since(since=info.snapshot_at, limit=1):
        return True
    return info.catalogue != catalogue_stamp()


def _send_task(name: str, *, args=(), failed: str) -> bool:
    """Hand a task to the broker by name (the web process never imports
    gnn.tasks, which reaches the torch side); False when the broker is down,
    after which it is skipped for a while so that writes do not each wait."""
    if time.monotonic() < process_state.broker_retry_after:
        return False
    from celery import current_app

    try:
        # The request id travels with the task: its log lines carry it too.
        current_app.send_task(
            name, args=list(args), retry=False, headers={"request_id": current_request_id()}
        )
    except Exception as exc:
        with _broker_lock:
            process_state.broker_retry_after = time.monotonic() + _BROKER_BACKOFF_SECONDS
        log.warning("broker unreachable, %s: %s", failed, exc)
        return False
    return True


def run_is_stale(run: TrainingRun) -> bool:
    """A queued or running run nobody is carrying out any more (see expire_stale_runs)."""
    now = timezone.now()
    if run.status == Status.RUNNING:
        beat = run.heartbeat_at or run.started_at or run.created_at
        return beat < now - timedelta(seconds=settings.TRAINING_STALE_SECONDS)
    return run.created_at < now - timedelta(seconds=settings.TRAINING_QUEUED_STALE_SECONDS)


def expire_stale_runs() -> int:
    """Mark runs whose worker died (no heartbeat) or that never started as failed."""
    now = timezone.now()
    dead = TrainingRun.objects.filter(
        status=Status.RUNNING,
        heartbeat_at__lt=now - timedelta(seconds=settings.TRAINING_STALE_SECONDS),
    ).update(
        status=Status.FAILED,
        active=None,
        finished_at=now,
        error="The worker stopped reporting progress (killed or crashed); nothing was published.",
    )
    lost = TrainingRun.objects.filter(
        status=Status.QUEUED,
        created_at__lt=now - timedelta(seconds=settings.TRAINING_QUEUED_STALE_SECONDS),
    ).update(
        status=Status.FAILED,
        active=None,
        finished_at=now,
        error="No worker picked the run up in time.",
    )
    if dead or lost:
        log.warning("marked %s dead and %s never-started training run(s) failed", dead, lost)
    return dead + lost


class RunInProgress(Exception):
    def __init__(self, run: TrainingRun | None):
        self.run = run
        what = f"training run {run.pk} is {run.status}" if run else "a training run is active"
        super().__init__(f"{what}; only one runs at a time")
