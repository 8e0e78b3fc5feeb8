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
import traceback
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.observability import current_request_id
from gnn.edge import registry
from gnn.edge.state import process_state
from gnn.models import AutoRetraining, ModelVersion, TrainingRun
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
    """The data snapshot time of the version `current` points at, if any.

    Read once per version and remembered: this runs after every rating."""
    version = registry.current_version(settings.MODELS_DIR)
    if version is None:
        return None
    memo = process_state.snapshot_of
    if version not in memo:
        try:
            path = registry.versions_dir(settings.MODELS_DIR) / version
            stamp = registry.read_metadata(path).get("snapshot_at")
        except registry.ModelVersionError:
            return None
        memo[version] = parse_datetime(stamp) if isinstance(stamp, str) else None
    return memo[version]


def ratings_since_snapshot(limit: int | None = None) -> int:
    """Ratings written since the served snapshot, counted up to ``limit`` only:
    after every rating the question is just whether the threshold is reached."""
    return ratings_written_since(since=served_snapshot_at(), limit=limit)


def retrain_if_due() -> TrainingRun | None:
    """Called after every committed rating write; a few indexed reads when
    nothing is due, and no write."""
    active = TrainingRun.objects.filter(active=True).first()
    if active is not None:
        if not run_is_stale(active):
            if active.status == Status.QUEUED and active.sent_at is None:
                _send(active.pk)  # a hand-over that failed earlier
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
    if time.monotonic() < process_state.broker_retry_after:
        return False
    from gnn.tasks import train_model

    try:
        # The request id travels with the task: its log lines carry it too.
        train_model.apply_async(
            args=[run_id], retry=False, headers={"request_id": current_request_id()}
        )
    except Exception as exc:
        with _broker_lock:
            process_state.broker_retry_after = time.monotonic() + _BROKER_BACKOFF_SECONDS
        log.warning("broker unreachable, training run %s stays pending: %s", run_id, exc)
        return False
    TrainingRun.objects.filter(pk=run_id, sent_at=None).update(sent_at=timezone.now())
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


# --- Running a run --------------------------------------------------------


def training_run_execute(*, run_id: int, **train_options) -> TrainingRun | None:
    """Claim a queued run and carry it out; None if another worker has it.

    Whatever happens, the served model changes only when a new version was
    published completely (the registry moves `current` atomically).
    """
    now = timezone.now()
    claimed = TrainingRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        log.info("training run %s is not queued (claimed elsewhere or expired); skipping", run_id)
        return None
    log.info("training run %s started", run_id)

    def heartbeat(text: str | None = None) -> None:
        fields = {"heartbeat_at": timezone.now()}
        if text is not None:
            fields["progress"] = text[:200]
        alive = TrainingRun.objects.filter(pk=run_id, status=Status.RUNNING).update(**fields)
        if not alive:
            raise RunAborted(f"training run {run_id} was marked failed while running")

    from gnn.edge.pipeline import train_from_database  # torch loads here, in the worker

    trigger = TrainingRun.objects.values_list("trigger", flat=True).get(pk=run_id)
    try:
        with _beating(heartbeat):
            result = train_from_database(
                progress=heartbeat, run_id=run_id, trigger=trigger, **train_options
            )
    except BaseException as exc:
        TrainingRun.objects.filter(pk=run_id, status=Status.RUNNING).update(
            status=Status.FAILED,
            active=None,
            finished_at=timezone.now(),
            error="".join(traceback.format_exception_only(exc)).strip()[:4000],
        )
        log.exception("training run %s failed", run_id)
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt, SystemExit: stop as asked
        return TrainingRun.objects.get(pk=run_id)
    # Only a run still running moves: one taken for dead meanwhile stays failed.
    moved = TrainingRun.objects.filter(pk=run_id, status=Status.RUNNING).update(
        status=Status.REJECTED if result.rejected else Status.SUCCEEDED,
        error=result.rejected or "",
        active=None,
        finished_at=timezone.now(),
        version=result.version or "",
        metrics=result.metrics,
        snapshot_at=result.snapshot_at,
        ratings_count=result.counts["ratings"],
        users_count=result.counts["users"],
        movies_count=result.counts["movies"],
        progress="done",
    )
    versions_sync()  # the admin's version list mirrors what was just published
    if not moved:
        log.warning("training run %s was marked failed before it finished", run_id)
    elif result.rejected:
        log.warning("training run %s rejected: %s", run_id, result.rejected)
    else:
        log.info("training run %s succeeded: version %s", run_id, result.version)
    return TrainingRun.objects.get(pk=run_id)


class _beating:
    """Beats the run's heartbeat from a thread every quarter of
    TRAINING_STALE_SECONDS, through every phase (evaluation and publishing
    report no progress of their own)."""

    def __init__(self, heartbeat):
        self.heartbeat = heartbeat
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="training-heartbeat", daemon=True)

    def _run(self):
        from django.db import connection

        interval = max(0.05, settings.TRAINING_STALE_SECONDS / 4)
        try:
            while not self.stop.wait(interval):
                try:
                    self.heartbeat()
                except RunAborted:
                    return
                except Exception:  # a database hiccup: the next beat tries again
                    log.warning("training heartbeat failed", exc_info=True)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


# --- Versions -------------------------------------------------------------


def versions_sync() -> None:
    """Mirror models/versions/ into ModelVersion rows (files are the truth)."""
    found = {info.version: info for info in registry.list_versions(settings.MODELS_DIR)}
    ModelVersion.objects.exclude(version__in=list(found)).delete()
    known = set(ModelVersion.objects.values_list("version", flat=True))
    for name, info in found.items():
        if name in known or info.metadata is None:
            continue
        metadata = info.metadata
        run_id = metadata.get("training_run")
        ModelVersion.objects.create(
            version=name,
            created_at=parse_datetime(metadata.get("created_at") or "") or None,
            metrics=metadata.get("metrics") or {},
            data=metadata.get("data") or {},
            training_run=TrainingRun.objects.filter(pk=run_id).first() if run_id else None,
        )


def version_activate(*, version: str, by: str = "a curator") -> None:
    """Serve ``version`` (a rollback or roll-forward); raises ModelVersionError.

    A rollback (a version older than the newest) pauses automatic retraining,
    which would otherwise undo it at the next threshold."""
    registry.activate_version(settings.MODELS_DIR, version)
    log.info("model version %s activated", version)
    names = [info.version for info in registry.list_versions(settings.MODELS_DIR)]
    newest = max(names, default=None)
    if newest is not None and version < newest:
        retraining_pause(reason=f"{by} rolled back to {version}; resume when ready")


def training_run_local(*, trigger: str = Trigger.COMMAND, **train_options) -> TrainingRun:
    """Train in this process (the train_model command), recorded like any run.

    Raises RunInProgress when another run is queued or running.
    """
    expire_stale_runs()
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(trigger=trigger, sent_at=timezone.now())
    except IntegrityError:
        active = TrainingRun.objects.filter(active=True).first()
        raise RunInProgress(active) from None
    return training_run_execute(run_id=run.pk, **train_options)


class RunInProgress(Exception):
    def __init__(self, run: TrainingRun | None):
        self.run = run
        what = f"training run {run.pk} is {run.status}" if run else "a training run is active"
        super().__init__(f"{what}; only one runs at a time")
