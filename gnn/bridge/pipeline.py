"""Train from the database, evaluate honestly, and hand a version over to publish.

Used by the train_model command and the Celery task alike (through gnn.runs,
which publishes the result with gnn.versions). The evaluation holds out, from
the snapshot, a share of users entirely (cold start and first five ratings)
and a share of the other users' ratings (warm); the version that is published
is the one that was measured.
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from django.utils import timezone

from gnn.bridge import registry, weights
from gnn.bridge.metadata import (
    DataCounts,
    RefreshSource,
    VersionMetadata,
    figure,
    parse_moment,
)
from gnn.bridge.snapshot import catalogue_stamp, load_snapshot
from gnn.ml import distributed, protocols
from gnn.ml.data import Dataset, Ratings, Users, remap_users, restrict_to_users, unit_hash
from gnn.ml.inference import serving_arrays_for
from gnn.ml.network import Config
from gnn.ml.training import TrainedModel, WarmStart, release_freed_memory, train

log = logging.getLogger("gnn.training")

COLD_SHARE = 0.1  # of users with enough ratings, held out entirely
COLD_MIN_RATINGS = 10
WARM_SHARE = 0.1  # of each remaining user's ratings, held out
FIRST_K = 5
MIN_RATINGS = 20
MIN_USERS = 3


class NotEnoughData(ValueError):
    pass


GATE_MARGIN = 0.02  # how far below the served version's warm NDCG@10 a new one may be


def quality_gate(
    metrics: dict, counts: DataCounts, served: VersionMetadata | None
) -> tuple[bool, str]:
    """(serve it?, why): refused when its figures are missing or not finite,
    when its warm NDCG@10 is below the popularity floor, or when it is more
    than GATE_MARGIN below the served version's on the same protocol. The
    first version, and fixture-sized data, are served anyway (and say so)."""
    ndcg, rmse = figure(metrics, "warm", "ndcg_at_10"), figure(metrics, "warm", "rmse")
    floor = figure(metrics, "warm", "ndcg_at_10", "popularity")
    before = served.figure("warm", "ndcg_at_10") if served else None
    problems = []
    if ndcg is None or rmse is None or floor is None:
        problems.append("its evaluation figures are missing or not finite")
    else:
        if ndcg < floor:
            problems.append(f"warm NDCG@10 {ndcg:.4f} is below the popularity floor's {floor:.4f}")
        if before is not None and ndcg < before - GATE_MARGIN:
            problems.append(
                f"warm NDCG@10 {ndcg:.4f} is more than {GATE_MARGIN} below the served "
                f"version's {before:.4f}"
            )
    if not problems:
        return True, "passed the quality gate"
    problem = "; ".join(problems)  # every reason, not only the first
    if served is None:
        return True, f"served without the gate as the first version ({problem})"
    if counts.ratings < settings.QUALITY_GATE_MIN_RATINGS:
        return True, f"served without the gate: fixture-sized data ({problem})"
    return False, f"not served: {problem}"


@dataclass
class EvaluationSplit:
    train: Dataset
    warm_test: Ratings
    held: Users
    held_ratings: Ratings


def split_for_evaluation(dataset: Dataset, seed: int) -> EvaluationSplit:
    """Members held out whole (a share of those with enough ratings) and a
    share of the other members' ratings, chosen by a hash of their ids: the
    same members and ratings stay held out as the data grows, so a version
    continued from the served one (incremental) is measured on what neither
    learnt from."""
    per_user = np.bincount(dataset.ratings.user, minlength=len(dataset.users))
    candidates = np.flatnonzero(per_user >= COLD_MIN_RATINGS)
    held_rows = np.empty(0, dtype=np.int64)
    if len(candidates) >= 3:
        draw = unit_hash(dataset.users.ids[candidates], seed + 777)
        held_rows = np.sort(candidates[draw < COLD_SHARE])
        if not len(held_rows):
            held_rows = candidates[[int(np.argmin(draw))]]
    kept_rows = np.setdiff1d(np.arange(len(dataset.users)), held_rows)
    kept = restrict_to_users(dataset, kept_rows)
    ratings = kept.ratings
    keys = kept.users.ids[ratings.user] * (int(dataset.movies.ids.max(initial=0)) + 1)
    pick = unit_hash(keys + dataset.movies.ids[ratings.movie], seed + 1) < WARM_SHARE
    left = np.bincount(ratings.user[~pick], minlength=len(kept.users))
    pick &= left[ratings.user] >= 5  # everyone keeps five ratings to train on
    return EvaluationSplit(
        train=Dataset(kept.users, kept.movies, ratings.take(~pick), dict(dataset.meta)),
        warm_test=ratings.take(pick),
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


class _Phases:
    """Seconds and the process's memory high-water mark (MiB) per phase: which
    phase raised it."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.peaks: dict[str, int] = {}
        self._clock = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._clock, 1)
        self.peaks[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        self._clock = now


def training_config(seed: int, max_steps: int | None) -> Config:
    """The model's defaults, bounded by the settings and the caller."""
    cfg = Config(seed=seed, ease_movies=settings.ITEM_ITEM_MAX_MOVIES)
    if settings.TRAINING_MAX_STEPS:
        cfg.max_steps = settings.TRAINING_MAX_STEPS
    if settings.TRAINING_PATIENCE:
        cfg.patience = settings.TRAINING_PATIENCE
    if max_steps is not None:
        cfg.max_steps = max_steps
    return cfg


def _snapshot(phases: _Phases) -> tuple[Dataset, str]:
    stamp = catalogue_stamp()  # before the snapshot: a change in between refreshes again
    dataset = load_snapshot()
    phases.lap("snapshot")
    counts = dataset.counts()
    if counts["ratings"] < MIN_RATINGS or counts["users"] < MIN_USERS:
        raise NotEnoughData(
            f"not enough data to train: {counts['ratings']} ratings by {counts['users']} users "
            f"(need at least {MIN_RATINGS} ratings by {MIN_USERS} users)"
        )
    return dataset, stamp


def warm_start(dataset: Dataset, full: bool = False) -> tuple[WarmStart | None, str]:
    """The served version's weights to continue from, or None and why a full
    retrain: asked for, none served, the catalogue changed since, the last
    full retrain is TRAINING_FULL_EVERY_DAYS old, or it cannot be loaded."""
    served = registry.served(settings.MODELS_DIR)
    if full or not settings.TRAINING_INCREMENTAL:
        return None, "a full retrain (asked for)"
    if served is None:
        return None, "a full retrain (no version is served)"
    full_at = parse_moment(served.chosen_on_validation.get("full_retrain_at")) or served.created_at
    age = timezone.now() - full_at if full_at else timedelta.max
    if age > timedelta(days=settings.TRAINING_FULL_EVERY_DAYS):
        return (
            None,
            f"a full retrain (the last was {settings.TRAINING_FULL_EVERY_DAYS:g}+ days ago)",
        )
    try:
        loaded = weights.load_trained(settings.MODELS_DIR, served.version)
    except registry.ModelVersionError as exc:
        return None, f"a full retrain (the served version cannot be loaded: {exc})"
    state = loaded.preprocessor.state
    same = state["movie_ids"] == [int(m) for m in dataset.movies.ids] and list(
        state["genre_positions"]
    ) == [int(p) for p in dataset.movies.positions]
    if not same:
        return None, "a full retrain (the catalogue changed)"
    start = WarmStart(
        loaded.preprocessor, loaded.model.state_dict(), served.version, full_at,
        served.chosen_on_validation,
    )  # fmt: skip
    return start, f"an incremental retrain from version {served.version}"


def _train(dataset: Dataset, cfg: Config, progress, show_bar, on_check, start) -> TrainedModel:
    """In this process, or in TRAINING_PROCESSES processes started by torchrun."""
    processes = settings.TRAINING_PROCESSES
    if processes == 1 or start is not None:  # (a short incremental run stays here)
        return train(
            dataset, cfg, progress=progress, show_bar=show_bar, on_check=on_check, start=start
        )
    work = Path(settings.MODELS_DIR) / "training"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix="run-") as folder:
        return distributed.train_in_processes(
            dataset, cfg, processes, Path(folder), threads=settings.TORCH_THREADS_TRAINING,
            progress=progress, on_check=on_check,
        )  # fmt: skip


def train_from_database(
    *,
    trigger: str = "command",
    seed: int = 0,
    max_steps: int | None = None,
    progress: Callable[[str], None] | None = None,
    run_id: int | None = None,
    show_bar: bool = False,
    on_check: Callable[[dict], None] | None = None,
    full: bool = False,
) -> registry.Candidate:
    """Snapshot, train, measure on what was held out, and compute the serving
    arrays over every rating: a version ready to publish. Incremental (from
    the served version's weights, fewer steps) when warm_start allows and
    ``full`` is not asked for."""
    torch.set_num_threads(settings.TORCH_THREADS_TRAINING)
    say = progress or (lambda _text: None)
    phases = _Phases()
    dataset, stamp = _snapshot(phases)
    cfg = training_config(seed, max_steps)
    start, kind = warm_start(dataset, full)
    if start is not None and max_steps is None:
        # A share of the steps the last full retrain took (it stopped early
        # where the curve had flattened), not of the most it could take.
        full_steps = start.chosen.get("full_retrain_steps") or cfg.max_steps
        share = settings.TRAINING_INCREMENTAL_SHARE
        cfg.max_steps = max(cfg.eval_every, min(cfg.max_steps, round(full_steps * share)))
    split = split_for_evaluation(dataset, seed)
    phases.lap("split")
    say(
        f"{kind}: training on {len(split.train.ratings):,} ratings; holding out "
        f"{len(split.warm_test):,} ratings and {len(split.held)} users for evaluation"
    )
    trained = _train(split.train, cfg, progress, show_bar, on_check, start)
    phases.lap("training")
    say("evaluating")
    release_freed_memory()  # what training left on the heap, before evaluation's matrices
    metrics = evaluate(trained, split)
    phases.lap("evaluation")
    counts = DataCounts(**dataset.counts(), training_ratings=len(split.train.ratings))
    del split  # trained without the held-out users and ratings; served over all of them
    say("computing the serving arrays")
    serving = serving_arrays_for(trained.model, trained.preprocessor, dataset)
    phases.lap("serving_arrays")
    serve, gate = quality_gate(metrics, counts, registry.served(settings.MODELS_DIR))
    metadata = _metadata(trained, cfg, metrics, counts, phases, dataset.meta["snapshot_at"])
    return registry.Candidate(
        metadata=dataclasses.replace(
            metadata, trigger=trigger, training_run=run_id, quality_gate=gate
        ),
        write_model=weights.writer(trained.model.state_dict()),
        preprocessor=trained.preprocessor.state,
        serving=serving,
        source=_source(dataset, stamp, phases.seconds["serving_arrays"]),
        serve=serve,
        gate=gate,
    )


def _metadata(trained: TrainedModel, cfg: Config, metrics: dict, counts: DataCounts,
              phases: _Phases, snapshot_at: datetime) -> VersionMetadata:  # fmt: skip
    """What the version's metadata.json records about how it was made."""
    training = {f"training.{k}": v for k, v in trained.phases.items() if k != "peak_rss_mib"}
    return VersionMetadata(
        version="",
        format=0,
        created_at=None,
        snapshot_at=snapshot_at,
        data=counts,
        metrics=metrics,
        hyperparameters=cfg.as_dict(),
        chosen_on_validation=trained.chosen,
        history=trained.history,  # the validation figures at each check: the curve
        # Seconds per phase; "training" splits into trained.phases.
        phases={**phases.seconds, **training},
        peak_rss_mib_after={
            **phases.peaks,
            "training.message_passing": trained.phases.get("peak_rss_mib"),
        },
        training_seconds=round(trained.seconds, 1),
        best_step=trained.best_step,
        torch_threads=torch.get_num_threads(),
    )


def _source(dataset: Dataset, stamp: str, seconds: float) -> RefreshSource:
    return RefreshSource(
        snapshot_at=dataset.meta["snapshot_at"],
        catalogue=stamp,
        data=DataCounts(**dataset.counts()),
        seconds=seconds,
    )


@dataclass
class RefreshResult:
    version: str
    refresh: str | None  # None: a refresh of a newer snapshot was published meanwhile
    source: RefreshSource


def refresh_serving(models_dir=None) -> RefreshResult | None:
    """Recompute every movie's states from the current ratings and catalogue
    with the served weights, and publish them inside the served version.
    None when nothing is served. One snapshot and one forward pass."""
    root = models_dir or settings.MODELS_DIR
    served = registry.served(root)
    if served is None:
        return None
    started = time.perf_counter()
    trained = weights.load_trained(root, served.version)
    stamp = catalogue_stamp()
    dataset = load_snapshot()
    serving = serving_arrays_for(trained.model, trained.preprocessor, dataset)
    source = _source(dataset, stamp, time.perf_counter() - started)
    refresh = registry.publish_refresh(root, served.version, serving, source)
    log.info(
        "refreshed the serving arrays of %s from %d ratings in %.2f s",
        served.version, source.data.ratings, source.seconds,
    )  # fmt: skip
    return RefreshResult(served.version, refresh, source)
