"""Train from the database, evaluate honestly, publish a version.

Used by the train_model command and the Celery task alike. The evaluation
holds out, from the snapshot, a share of users entirely (cold start and first
five ratings) and a share of the other users' ratings (warm); the version that
is published is the one that was measured.
"""

from __future__ import annotations

import logging
import math
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import torch
from django.conf import settings
from django.utils.dateparse import parse_datetime

from gnn.edge import registry, weights
from gnn.edge.snapshot import catalogue_stamp, load_snapshot
from gnn.ml import protocols
from gnn.ml.data import Dataset, Ratings, Users, remap_users, restrict_to_users
from gnn.ml.inference import serving_arrays_for
from gnn.ml.network import Config
from gnn.ml.training import TrainedModel, release_freed_memory, split_validation, train

log = logging.getLogger("gnn.training")

COLD_SHARE = 0.1  # of users with enough ratings, held out entirely
COLD_MIN_RATINGS = 10
WARM_SHARE = 0.1  # of each remaining user's ratings, held out
FIRST_K = 5
MIN_RATINGS = 20
MIN_USERS = 3


class NotEnoughData(ValueError):
    pass


@dataclass
class PipelineResult:
    version: str | None
    metrics: dict
    counts: dict
    snapshot_at: datetime
    seconds: float
    best_step: int
    rejected: str = ""  # why the quality gate refused to serve it


GATE_MARGIN = 0.02  # how far below the served version's warm NDCG@10 a new one may be


def quality_gate(metrics: dict, counts: dict, served: dict | None) -> tuple[bool, str]:
    """(serve it?, why): refused when its figures are missing or not finite,
    when its warm NDCG@10 is below the popularity floor, or when it is more
    than GATE_MARGIN below the served version's on the same protocol. The
    first version, and fixture-sized data, are served anyway (and say so)."""
    warm = metrics.get("warm") or {}
    figures = [
        (warm.get("model") or {}).get("ndcg_at_10"),
        (warm.get("model") or {}).get("rmse"),
        (warm.get("popularity") or {}).get("ndcg_at_10"),
    ]
    if not all(isinstance(f, int | float) and math.isfinite(f) for f in figures):
        problem = "its evaluation figures are missing or not finite"
    elif figures[0] < figures[2]:
        problem = f"warm NDCG@10 {figures[0]:.4f} is below the popularity floor's {figures[2]:.4f}"
    else:
        problem = ""
        before = (((served or {}).get("warm") or {}).get("model") or {}).get("ndcg_at_10")
        if isinstance(before, int | float) and figures[0] < before - GATE_MARGIN:
            problem = (
                f"warm NDCG@10 {figures[0]:.4f} is more than {GATE_MARGIN} below the served "
                f"version's {before:.4f}"
            )
    if not problem:
        return True, "passed the quality gate"
    if served is None:
        return True, f"served without the gate as the first version ({problem})"
    if counts["ratings"] < settings.QUALITY_GATE_MIN_RATINGS:
        return True, f"served without the gate: fixture-sized data ({problem})"
    return False, f"not served: {problem}"


@dataclass
class EvaluationSplit:
    train: Dataset
    warm_test: Ratings
    held: Users
    held_ratings: Ratings


def split_for_evaluation(dataset: Dataset, seed: int) -> EvaluationSplit:
    rng = np.random.default_rng(seed + 777)
    per_user = np.bincount(dataset.ratings.user, minlength=len(dataset.users))
    candidates = np.flatnonzero(per_user >= COLD_MIN_RATINGS)
    n_held = max(1, round(COLD_SHARE * len(candidates))) if len(candidates) >= 3 else 0
    held_rows = np.sort(rng.choice(candidates, size=n_held, replace=False)) if n_held else []
    kept_rows = np.setdiff1d(np.arange(len(dataset.users)), held_rows)
    kept = restrict_to_users(dataset, kept_rows)
    train_ratings, warm_test = split_validation(kept.ratings, WARM_SHARE, seed + 1)
    return EvaluationSplit(
        train=Dataset(kept.users, kept.movies, train_ratings, dict(dataset.meta)),
        warm_test=warm_test,
        held=dataset.users.take(held_rows),
        held_ratings=remap_users(dataset.ratings, held_rows, len(dataset.users)),
    )


def evaluate(trained: TrainedModel, split: EvaluationSplit) -> dict:
    floors = protocols.floors_for(trained)
    metrics = {"warm": protocols.evaluate_warm(trained, split.warm_test, floors)}
    if len(split.held):
        metrics.update(
            protocols.evaluate_all_new_members(trained, split.held, split.held_ratings, floors)
        )
    return metrics


def train_from_database(
    *,
    trigger: str = "command",
    seed: int = 0,
    max_steps: int | None = None,
    activate: bool = True,
    progress: Callable[[str], None] | None = None,
    run_id: int | None = None,
    show_bar: bool = False,
    on_check: Callable[[dict], None] | None = None,
) -> PipelineResult:
    torch.set_num_threads(settings.TORCH_THREADS_TRAINING)
    clock = time.perf_counter()
    phases: dict[str, float] = {}
    peaks: dict[str, int] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[name] = round(now - clock, 1)
        # The process's high-water mark so far (MiB): which phase raised it.
        peaks[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        clock = now

    stamp = catalogue_stamp()  # before the snapshot: a change in between refreshes again
    dataset = load_snapshot()
    lap("snapshot")
    counts = dataset.counts()
    if counts["ratings"] < MIN_RATINGS or counts["users"] < MIN_USERS:
        raise NotEnoughData(
            f"not enough data to train: {counts['ratings']} ratings by {counts['users']} users "
            f"(need at least {MIN_RATINGS} ratings by {MIN_USERS} users)"
        )
    cfg = Config(seed=seed)
    if settings.TRAINING_MAX_STEPS:
        cfg.max_steps = settings.TRAINING_MAX_STEPS
    if settings.TRAINING_PATIENCE:
        cfg.patience = settings.TRAINING_PATIENCE
    if max_steps is not None:
        cfg.max_steps = max_steps
    split = split_for_evaluation(dataset, seed)
    lap("split")
    if progress:
        progress(
            f"training on {len(split.train.ratings):,} ratings; holding out "
            f"{len(split.warm_test):,} ratings and {len(split.held)} users for evaluation"
        )
    trained = train(split.train, cfg, progress=progress, show_bar=show_bar, on_check=on_check)
    lap("training")
    if progress:
        progress("evaluating")
    release_freed_memory()  # what training left on the heap, before evaluation's matrices
    metrics = evaluate(trained, split)
    lap("evaluation")
    serve, gate = quality_gate(metrics, counts, _served_metrics())
    snapshot_at = parse_datetime(dataset.meta["snapshot_at"])
    metadata = {
        "trigger": trigger,
        "training_run": run_id,
        "snapshot_at": dataset.meta["snapshot_at"],
        "data": {**counts, "training_ratings": len(split.train.ratings)},
        "metrics": metrics,
        "hyperparameters": cfg.as_dict(),
        "training_seconds": round(trained.seconds, 1),
        "best_step": trained.best_step,
        # The validation figures at each check: the training curve.
        "history": trained.history,
        "chosen_on_validation": trained.chosen,
        "torch_threads": torch.get_num_threads(),
        "quality_gate": gate,
        # Seconds per phase; "training" splits into trained.phases.
        "phases": {
            **phases,
            **{f"training.{k}": v for k, v in trained.phases.items() if k != "peak_rss_mib"},
        },
        "peak_rss_mib_after": {
            **peaks,
            "training.message_passing": trained.phases.get("peak_rss_mib"),
        },
    }
    if progress:
        progress("computing the serving arrays")
    # Trained without the held-out users and ratings; served over all of them.
    del split
    serving = serving_arrays_for(trained.model, trained.preprocessor, dataset)
    lap("serving_arrays")
    metadata["phases"]["serving_arrays"] = phases["serving_arrays"]
    metadata["peak_rss_mib_after"]["serving_arrays"] = peaks["serving_arrays"]
    if progress:
        progress("publishing")  # also the last check that the run is still wanted
    version = registry.publish(
        settings.MODELS_DIR,
        write_model=weights.writer(trained.model.state_dict()),
        preprocessor=trained.preprocessor.state,
        metadata=metadata,
        serving=serving,
        serving_info=_serving_info(dataset, stamp, phases["serving_arrays"]),
        activate=activate and serve,
    )
    log.info("published model version %s (trained in %.1f s)", version, trained.seconds)
    return PipelineResult(
        version=version,
        metrics=metrics,
        counts=counts,
        snapshot_at=snapshot_at,
        seconds=trained.seconds,
        best_step=trained.best_step,
        rejected="" if serve else gate,
    )


def _served_metrics() -> dict | None:
    version = registry.current_version(settings.MODELS_DIR)
    if version is None:
        return None
    try:
        metadata = registry.read_metadata(registry.versions_dir(settings.MODELS_DIR) / version)
    except registry.ModelVersionError:
        return None  # unreadable: nothing to compare with, as for a first version
    return metadata.get("metrics") or {}


def _serving_info(dataset: Dataset, stamp: str, seconds: float) -> dict:
    counts = dataset.counts()
    return {
        "snapshot_at": dataset.meta["snapshot_at"],
        "catalogue": stamp,
        "ratings": counts["ratings"],
        "users": counts["users"],
        "movies": counts["movies"],
        "seconds": round(seconds, 2),
    }


@dataclass
class RefreshResult:
    version: str
    refresh: str | None  # None: a refresh of a newer snapshot was published meanwhile
    info: dict


def refresh_serving(models_dir=None) -> RefreshResult | None:
    """Recompute every movie's states from the current ratings and catalogue
    with the served weights, and publish them inside the served version.
    None when nothing is served. One snapshot and one forward pass."""
    root = models_dir or settings.MODELS_DIR
    version = registry.current_version(root)
    if version is None:
        return None
    started = time.perf_counter()
    trained = weights.load_trained(root, version)
    stamp = catalogue_stamp()
    dataset = load_snapshot()
    serving = serving_arrays_for(trained.model, trained.preprocessor, dataset)
    info = _serving_info(dataset, stamp, time.perf_counter() - started)
    refresh = registry.publish_refresh(root, version, serving, info)
    log.info(
        "refreshed the serving arrays of %s from %d ratings in %.2f s",
        version, info["ratings"], info["seconds"],
    )  # fmt: skip
    return RefreshResult(version, refresh, info)
