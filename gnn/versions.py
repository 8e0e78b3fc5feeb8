"""Model versions: publishing one (its files and its row together), choosing
the one served, and the database's record of them.

The files are the registry's (gnn.bridge.registry, which also says which
versions are served and what each says); the rows are this app's. One
function writes both when a version is published, so nothing rescans the
folder; ``versions_record_unrecorded`` is the one-off step for folders made
before rows were written with them (or by a publish whose row failed).
No torch here: web processes activate versions from the admin.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from gnn.bridge import registry
from gnn.bridge.metadata import VersionMetadata
from gnn.models import ModelVersion, TrainingRun
from gnn.services import retraining_pause

log = logging.getLogger("gnn.training")


def version_publish(*, candidate: registry.Candidate, activate: bool = True) -> ModelVersion:
    """Write the candidate's files and its row; serve it when ``activate`` and
    the quality gate passed it. Old versions are pruned (their rows stay,
    marked removed)."""
    root = settings.MODELS_DIR
    metadata = registry.publish(root, candidate)
    row = _record(metadata)
    log.info("published model version %s", metadata.version)
    if activate and candidate.serve:
        registry.activate_version(root, metadata.version)
        log.info("model version %s activated", metadata.version)
    _prune()
    return row


def _record(metadata: VersionMetadata, *, removed: bool = False) -> ModelVersion:
    run = metadata.training_run
    return ModelVersion.objects.create(
        version=metadata.version,
        created_at=metadata.created_at,
        snapshot_at=metadata.snapshot_at,
        metrics=metadata.metrics,
        data=metadata.data.as_json(),
        training_run=TrainingRun.objects.filter(pk=run).first() if run else None,
        removed_at=timezone.now() if removed else None,
    )


def _prune() -> None:
    removed = registry.prune(settings.MODELS_DIR)
    if removed:
        ModelVersion.objects.filter(version__in=removed).update(removed_at=timezone.now())


def version_activate(*, version: str, by: str = "a curator") -> None:
    """Serve ``version`` (a rollback or roll-forward); raises ModelVersionError.

    A rollback (a version older than the newest) pauses automatic retraining,
    which would otherwise undo it at the next threshold."""
    registry.activate_version(settings.MODELS_DIR, version)
    log.info("model version %s activated", version)
    newest = ModelVersion.objects.filter(removed_at=None).order_by("-version").first()
    if newest is not None and version < newest.version:
        retraining_pause(reason=f"{by} rolled back to {version}; resume when ready")


def versions_record_unrecorded() -> int:
    """Rows for version folders that have none, and ``removed_at`` for rows
    whose folder is gone; how many rows it wrote. Run by bootstrap."""
    found = {info.version: info for info in registry.list_versions(settings.MODELS_DIR)}
    gone = ModelVersion.objects.filter(removed_at=None).exclude(version__in=list(found))
    changed = gone.update(removed_at=timezone.now())
    known = set(ModelVersion.objects.values_list("version", flat=True))
    for name, info in found.items():
        if name not in known and info.metadata is not None:
            _record(info.metadata)
            changed += 1
    ModelVersion.objects.filter(version__in=list(found), removed_at__isnull=False).update(
        removed_at=None
    )
    return changed
