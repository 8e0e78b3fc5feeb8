"""What workers carry out: training runs and refreshes of the serving arrays.

The torch side of gnn's services: it imports the training pipeline, so web
processes never import it (an import-linter contract keeps them free of
torch); Celery tasks and the operators' commands call it.
"""

from __future__ import annotations

import logging
import threading
import traceback

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from gnn.bridge import pipeline
from gnn.bridge.pipeline import RefreshResult
from gnn.models import TrainingRun
from gnn.services import RunAborted, RunInProgress, expire_stale_runs, refresh_is_due
from gnn.versions import version_publish

log = logging.getLogger("gnn.training")

Status = TrainingRun.Status
Trigger = TrainingRun.Trigger


# --- Running a run --------------------------------------------------------


def training_run_execute(
    *, run_id: int, activate: bool = True, **train_options
) -> TrainingRun | None:
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

    curve: list[dict] = []

    def checked(metrics: dict) -> None:
        curve.append({k: v for k, v in metrics.items() if isinstance(v, int | float)})
        TrainingRun.objects.filter(pk=run_id).update(curve=curve)

    trigger = TrainingRun.objects.values_list("trigger", flat=True).get(pk=run_id)
    try:
        with _beating(heartbeat):
            candidate = pipeline.train_from_database(
                progress=heartbeat,
                run_id=run_id,
                trigger=trigger,
                on_check=checked,
                **train_options,
            )
            heartbeat("publishing")  # also the last check that the run is still wanted
            published = version_publish(candidate=candidate, activate=activate)
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
    counts = candidate.metadata.data
    # Only a run still running moves: one taken for dead meanwhile stays failed.
    moved = TrainingRun.objects.filter(pk=run_id, status=Status.RUNNING).update(
        status=Status.SUCCEEDED if candidate.serve else Status.REJECTED,
        error="" if candidate.serve else candidate.gate,
        active=None,
        finished_at=timezone.now(),
        snapshot_at=candidate.metadata.snapshot_at,
        ratings_count=counts.ratings,
        users_count=counts.users,
        movies_count=counts.movies,
        progress="done",
    )
    if not moved:
        log.warning("training run %s was marked failed before it finished", run_id)
    elif not candidate.serve:
        log.warning("training run %s rejected: %s", run_id, candidate.gate)
    else:
        log.info("training run %s succeeded: version %s", run_id, published.version)
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


def refresh_serving(*, force: bool = False) -> RefreshResult | None:
    """Refresh the served version's serving arrays when a rating or the
    catalogue changed since its latest refresh (always with ``force``); None
    when there was nothing to do."""
    if not force and not refresh_is_due():
        return None
    return pipeline.refresh_serving(settings.MODELS_DIR)
