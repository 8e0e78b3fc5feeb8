"""Starting, stopping and promoting experiments."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from experiments.models import POPULARITY, Experiment, Method
from experiments.selectors import running_experiments_forget
from gnn.bridge import registry
from gnn.models import ModelVersion
from gnn.versions import version_activate

log = logging.getLogger("experiments")


def experiment_check(experiment: Experiment) -> None:
    """ValidationError (by field) for an experiment that cannot run as set."""
    errors = {}
    servable = set(ModelVersion.objects.filter(removed_at=None).values_list("version", flat=True))
    if experiment.version_a not in servable:
        errors["version_a"] = "Choose a published version that is still on disk."
    if experiment.version_b != POPULARITY and experiment.version_b not in servable:
        errors["version_b"] = f"Choose a published version, or “{POPULARITY}”."
    # A version in both arms is allowed: an A/A test checks the pipeline and
    # the statistics (it should find nothing).
    if experiment.method == Method.INTERLEAVE and experiment.mde >= 1:
        errors["mde"] = "For interleaving, the effect is a preference margin below 1 (0.2: 60/40)."
    if experiment.ends_at and experiment.ends_at <= experiment.starts_at:
        errors["ends_at"] = "The end must come after the start."
    clash = (
        Experiment.objects.filter(surface=experiment.surface, stopped_at=None)
        .exclude(pk=experiment.pk)
        .filter(_overlapping(experiment))
        .first()
    )
    if clash is not None:
        errors["starts_at"] = (
            f"“{clash}” runs on this surface then: one experiment per surface at a time."
        )
    if errors:
        raise ValidationError(errors)


def _overlapping(experiment: Experiment) -> Q:
    """Experiments whose time overlaps ``experiment``'s."""
    ends_after_start = Q(ends_at=None) | Q(ends_at__gt=experiment.starts_at)
    if experiment.ends_at is None:
        return ends_after_start
    return ends_after_start & Q(starts_at__lt=experiment.ends_at)


def experiment_save(*, experiment: Experiment) -> Experiment:
    """Checked, saved, and its arms' versions served beside the current one."""
    with transaction.atomic():
        # One writer at a time decides overlaps (two curators saving at once).
        list(Experiment.objects.select_for_update().filter(surface=experiment.surface))
        experiment_check(experiment)
        experiment.save()
    arms_serve()
    return experiment


def experiment_stop(*, experiment: Experiment) -> None:
    if experiment.stopped_at is None:
        experiment.stopped_at = timezone.now()
        experiment.save(update_fields=["stopped_at"])
    arms_serve()


def experiment_promote(*, experiment: Experiment, arm: str, by: str) -> str:
    """Serve the arm's version to everyone, through the usual activation, and
    end the experiment. Returns the version."""
    version = experiment.version_a if arm == "a" else experiment.version_b
    if version == POPULARITY:
        raise ValidationError("The popularity arm is not a model version: it cannot be served.")
    version_activate(version=version, by=by)
    experiment.promoted = version
    experiment.stopped_at = experiment.stopped_at or timezone.now()
    experiment.save(update_fields=["promoted", "stopped_at"])
    arms_serve()
    log.info("experiment %s: arm %s (%s) promoted by %s", experiment, arm, version, by)
    return version


def arms_serve() -> None:
    """Every web process holds the versions of the experiments running or
    scheduled (beside the current one), and no others."""
    now = timezone.now()
    versions = []
    for experiment in Experiment.objects.filter(stopped_at=None):
        if experiment.ends_at and experiment.ends_at <= now:
            continue
        versions += [v for v in (experiment.version_a, experiment.version_b) if v != POPULARITY]
    registry.set_also_served(settings.MODELS_DIR, list(dict.fromkeys(versions)))
    running_experiments_forget()
