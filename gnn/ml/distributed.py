"""Training in several processes, on one machine or many, with torchrun.

The parent (a Celery task, a command) writes the snapshot of the ratings
once as a folder of .npy files (``write_dataset``) that every process maps
instead of reading the database, then starts

    python -m torch.distributed.run --nproc-per-node N [--nnodes K
        --rdzv-backend c10d --rdzv-endpoint HOST:PORT] -m gnn.ml.distributed
        --data FOLDER --config FILE --out FILE

Each process trains on its share of every batch (gnn.ml.training under
torch.distributed: gloo on CPUs, NCCL where GPUs are present); the first
writes the trained weights and what training chose to ``--out``, which the
parent reads back (``train_in_processes``). The processes publish nothing:
a run whose processes fail, or are killed, leaves no result and the served
model untouched.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from gnn.ml.data import Dataset, Movies, Ratings, Users
from gnn.ml.features import Preprocessor
from gnn.ml.network import Config, Recommender

log = logging.getLogger("gnn.training")

CHECK_PREFIX = "validation-check "  # how the first process reports each check


class TrainingProcessesFailed(RuntimeError):
    pass


# --- the snapshot file -------------------------------------------------------


def write_dataset(dataset: Dataset, folder: Path) -> None:
    """The dataset as .npy files (no pickles), each mappable by every process."""
    folder.mkdir(parents=True, exist_ok=True)
    users, movies, ratings = dataset.users, dataset.movies, dataset.ratings
    arrays = {
        "users.ids": users.ids, "users.age": users.age,
        "users.gender": np.array(users.gender, dtype=str),
        "users.occupation": np.array(users.occupation, dtype=str),
        "users.zip_code": np.array(users.zip_code, dtype=str),
        "movies.ids": movies.ids, "movies.year": movies.year, "movies.genres": movies.genres,
        "movies.positions": np.array(movies.positions, dtype=np.int64),
        "ratings.user": ratings.user, "ratings.movie": ratings.movie,
        "ratings.value": ratings.value, "ratings.time": ratings.time,
    }  # fmt: skip
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)


def read_dataset(folder: Path) -> Dataset:
    def load(name: str, mapped: bool = True) -> np.ndarray:
        path = folder / f"{name}.npy"
        return np.load(path, mmap_mode="r" if mapped else None, allow_pickle=False)

    users = Users(
        ids=load("users.ids"), age=load("users.age"),
        gender=load("users.gender", False).tolist(),
        occupation=load("users.occupation", False).tolist(),
        zip_code=load("users.zip_code", False).tolist(),
    )  # fmt: skip
    movies = Movies(
        ids=load("movies.ids"), year=load("movies.year"), genres=load("movies.genres"),
        genre_positions=tuple(load("movies.positions", False).tolist()),
    )  # fmt: skip
    ratings = Ratings(
        load("ratings.user"), load("ratings.movie"), load("ratings.value"), load("ratings.time")
    )
    return Dataset(users, movies, ratings)


# --- the parent --------------------------------------------------------------


def _die_with_parent() -> None:
    """A training killed with its Celery worker must not outlive it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def launch_command(processes: int, data: Path, config: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc-per-node={processes}", "-m", "gnn.ml.distributed",
        "--data", str(data), "--config", str(config), "--out", str(out),
    ]  # fmt: skip


def train_in_processes(
    dataset: Dataset,
    cfg: Config,
    processes: int,
    folder: Path,
    *,
    threads: int = 1,
    progress: Callable[[str], None] | None = None,
    on_check: Callable[[dict], None] | None = None,
):
    """Train ``dataset`` in ``processes`` processes on this machine; the
    TrainedModel, as gnn.ml.training.train returns it."""
    from gnn.ml.training import TrainedModel

    write_dataset(dataset, folder / "data")
    (folder / "config.json").write_text(json.dumps(cfg.as_dict()))
    out = folder / "trained.pt"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    command = launch_command(processes, folder / "data", folder / "config.json", out)
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        preexec_fn=_die_with_parent, start_new_session=True,
    )  # fmt: skip
    tail: list[str] = []
    try:
        for line in child.stdout:
            line = line.rstrip("\n")
            if CHECK_PREFIX in line:
                check = json.loads(line.split(CHECK_PREFIX, 1)[1])
                if on_check is not None:
                    on_check(check)
            elif line:
                tail = [*tail[-19:], line]
                if progress is not None:
                    progress(line)
        code = child.wait()
    except BaseException:
        os.killpg(child.pid, signal.SIGTERM)  # the whole group: torchrun and its processes
        child.wait()
        raise
    if code != 0 or not out.exists():
        raise TrainingProcessesFailed(
            f"training processes exited with {code}: " + " | ".join(tail[-5:])
        )
    result = torch.load(out, weights_only=True)
    cfg = Config.from_dict(json.loads(result["config"]))
    preprocessor = Preprocessor.fit(dataset.users, dataset.movies, use_zip=cfg.use_zip)
    model = Recommender(
        preprocessor.n_user_features, preprocessor.n_movie_features, len(dataset.movies),
        0.0, cfg,
    )  # fmt: skip
    model.load_state_dict(result["state"])
    model.eval()
    summary = json.loads(result["summary"])
    return TrainedModel(
        model=model, preprocessor=preprocessor, users=dataset.users, movies=dataset.movies,
        ratings=dataset.ratings, best_step=summary["best_step"], seconds=summary["seconds"],
        history=summary["history"], chosen=summary["chosen"], phases=summary["phases"],
    )  # fmt: skip


# --- each process ------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One training process (start it with torchrun).")
    parser.add_argument("--data", type=Path, required=True, help="folder from write_dataset")
    parser.add_argument("--config", type=Path, required=True, help="Config as JSON")
    parser.add_argument("--out", type=Path, required=True, help="where the first process writes")
    args = parser.parse_args(argv)
    from gnn.ml.training import train

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, timeout=timedelta(minutes=30))
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    try:
        dataset = read_dataset(args.data)
        cfg = Config.from_dict(json.loads(args.config.read_text()))
        threads = torch.get_num_threads()
        print(
            f"process {rank + 1} of {world} ({backend}, {threads} threads): "
            f"1/{world} of each batch's seed members",
            flush=True,
        )

        def report(check: dict) -> None:
            print(CHECK_PREFIX + json.dumps(check), flush=True)

        trained = train(dataset, cfg, on_check=report if rank == 0 else None)
        if trained is not None:
            _write_result(trained, args.out)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return 0


def _write_result(trained, out: Path) -> None:
    summary = {
        "best_step": trained.best_step, "seconds": trained.seconds,
        "history": trained.history, "chosen": trained.chosen, "phases": trained.phases,
    }  # fmt: skip
    partial = out.with_suffix(".partial")
    torch.save(
        {
            "state": trained.model.state_dict(),
            "config": json.dumps(trained.model.cfg.as_dict()),
            "summary": json.dumps(summary),
        },
        partial,
    )
    partial.replace(out)  # whole or absent: the parent never reads half a file


if __name__ == "__main__":
    sys.exit(main())
