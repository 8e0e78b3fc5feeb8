"""A full retrain against an incremental one, side by side on the same data.

    python benchmarks/incremental.py --shape ml-1m
    python benchmarks/incremental.py --data data/ml-100k

The data (a synthetic dataset of the shape, or a directory in MovieLens
100K's layout) loses a fixed tenth of its ratings to a test set (chosen by a
hash of member and movie, as the site's own evaluation holds out). Of the
rest, the latest 1% are the "new ratings": a first model is trained without
them (what is served), then both retrains run on everything: a full one from
scratch and an incremental one from the first model's weights with a quarter
of the steps the first one's training took (TRAINING_INCREMENTAL_SHARE's
default), keeping the first one's choices for the closed-form channels and
refitting them on every rating. Each one's training time
and its warm NDCG@10 and RMSE on the test set (the score with every channel,
as served) are printed, then a JSON line.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gnn.ml import benchmark, protocols  # noqa: E402
from gnn.ml.data import Dataset, unit_hash  # noqa: E402
from gnn.ml.network import Config  # noqa: E402
from gnn.ml.training import WarmStart, train  # noqa: E402

SHAPES = {"ml-1m": (6_040, 3_706, 1_000_209)}
NEW_SHARE = 0.01
TEST_SHARE = 0.1
INCREMENTAL_SHARE = 0.25


def load(directory: Path) -> Dataset:
    users, movies, user_index, movie_index = benchmark.load_grouplens(directory)
    rows = benchmark._read_ratings(directory / "u.data")
    return Dataset(users, movies, benchmark._ratings(rows, user_index, movie_index))


def timed_training(dataset: Dataset, cfg: Config, start=None):
    started = time.perf_counter()
    trained = train(dataset, cfg, start=start)
    return trained, round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="ml-1m")
    parser.add_argument("--data", type=Path, help="a directory in MovieLens 100K's layout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print("$ " + shlex.join([sys.executable, *sys.argv]), flush=True)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.data
        if directory is None:
            users, movies, ratings = SHAPES[args.shape]
            directory = Path(scratch)
            subprocess.run(
                [sys.executable, "fixtures/make_synthetic.py", "--users", str(users),
                 "--movies", str(movies), "--ratings", str(ratings), "--out", str(directory)],
                cwd=ROOT, check=True, capture_output=True,
            )  # fmt: skip
        data = load(directory)
    r = data.ratings
    keys = data.users.ids[r.user] * (int(data.movies.ids.max()) + 1) + data.movies.ids[r.movie]
    test_mask = unit_hash(keys, 2026) < TEST_SHARE
    everything = Dataset(data.users, data.movies, r.take(~test_mask))
    test = r.take(test_mask)
    moments = everything.ratings.time
    cut = np.quantile(moments, 1 - NEW_SHARE)
    before = Dataset(data.users, data.movies, everything.ratings.take(moments < cut))
    cfg = Config(seed=args.seed)
    print(
        f"{len(everything.ratings):,} training ratings, {len(test):,} test ratings; "
        f"{len(everything.ratings) - len(before.ratings):,} new",
        flush=True,
    )

    served, served_seconds = timed_training(before, cfg)
    print(f"served model (without the new ratings): {served_seconds} s", flush=True)
    report = {
        "ratings": len(everything.ratings),
        "new": len(everything.ratings) - len(before.ratings),
    }
    start = WarmStart(served.preprocessor, served.model.state_dict(), "served", None, served.chosen)
    # As the site does: a share of the steps the full training behind it took.
    full_steps = served.chosen["full_retrain_steps"]
    short = Config(
        seed=args.seed, max_steps=max(cfg.eval_every, round(full_steps * INCREMENTAL_SHARE))
    )
    runs = {
        "full": lambda: timed_training(everything, cfg),
        "incremental": lambda: timed_training(everything, short, start),
    }
    for name, run in runs.items():
        trained, seconds = run()
        warm = protocols.evaluate_warm(trained, test)
        report[name] = {
            "seconds": seconds, "steps": trained.history[-1]["step"] if trained.history else 0,
            "ndcg_at_10": warm["model"]["ndcg_at_10"], "rmse": warm["model"]["rmse"],
        }  # fmt: skip
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in report[name].items()), flush=True)
    full, incremental = report["full"], report["incremental"]
    print(
        f"incremental / full time {incremental['seconds'] / full['seconds']:.2f}; "
        f"NDCG@10 difference {incremental['ndcg_at_10'] - full['ndcg_at_10']:+.4f}"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
