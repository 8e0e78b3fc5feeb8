"""Import, train and serve at a given size, through the project's own commands.

    python benchmarks/scale.py --shape ml-1m [--processes 2]
    python benchmarks/scale.py --shape ml-10m --database postgres://postgres@127.0.0.1:5432/scale
    python benchmarks/scale.py --users 6040 --movies 3706 --ratings 1000000
    python benchmarks/scale.py --data data/ml-100k            # an existing directory
    python benchmarks/scale.py --ratings 100000 --database postgres://postgres@127.0.0.1:5432/scale

Writes a synthetic dataset (fixtures/make_synthetic.py) unless --data is
given, into a scratch directory (--work, default /tmp/reel-scale), with a
fresh database there (SQLite unless --database names a PostgreSQL one, which
is dropped and created). ``--shape`` names a MovieLens release's size (its
users x movies x ratings); from 10M on the data is written in the 20M-32M
layout (ratings.csv, movies.csv: no demographics), which seed_movielens
streams. ``--processes N`` trains with TRAINING_PROCESSES=N (torchrun).
Then, each in its own process so that peak memory is
the step's own: ``seed_movielens``; ``train_model``; a serving process that
times the first recommendation (the model load included) and the uncached
recommendations of 200 random members (p50/p95). Last, the model's and the
floors' new-member figures from the version's own evaluation. It prints the
command it ran, every figure, and a JSON line to compare runs by.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# users x movies x ratings of MovieLens's releases, and the layout written.
SHAPES = {
    "ml-1m": (6_040, 3_706, 1_000_209, "100k"),
    "ml-10m": (69_878, 10_677, 10_000_054, "csv"),
    "ml-25m": (162_541, 59_047, 25_000_095, "csv"),
}


def run_step(name: str, argv: list[str], env: dict) -> dict:
    """Run a child; its wall time, its own peak RSS (MiB) and its output."""
    started = time.perf_counter()
    peak_file = env["DATA_DIR"] + f"/../{name}.peak"
    child = [PYTHON, "-c", PEAK, peak_file, *argv]
    done = subprocess.run(child, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        tail = f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        sys.exit(f"{name} failed ({done.returncode}):\n{tail}")
    peak = int(Path(peak_file).read_text())
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(peak / 1024),
            "output": done.stdout}  # fmt: skip


# Runs the step in-process (runpy), then writes the process's peak RSS (KiB).
PEAK = r"""
import resource, runpy, sys
out, argv = sys.argv[1], sys.argv[2:]
sys.argv = argv[1:] if argv[0] == sys.executable else argv
try:
    if sys.argv[0] == "-c":
        code = sys.argv[1]; sys.argv = ["-c"]; exec(compile(code, "<step>", "exec"), {})
    else:
        runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    open(out, "w").write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


SERVE = r"""
import json, os, random, sys, time
import django
django.setup()
import numpy as np
from django.core.cache import cache
from accounts.models import User
from gnn import selectors
started = time.perf_counter()
member = User.objects.filter(ratings__isnull=False).order_by("pk").first()
selectors.recommendations_for(user=member, query=selectors.ListQuery(n=10))
first = time.perf_counter() - started
ids = list(User.objects.filter(ratings__isnull=False).distinct().values_list("pk", flat=True))
random.Random(0).shuffle(ids)
samples = []
for pk in ids[:200]:
    user = User.objects.get(pk=pk)
    cache.clear()
    t = time.perf_counter()
    selectors.recommendations_for(user=user, query=selectors.ListQuery(n=10))
    samples.append(time.perf_counter() - t)
ms = np.array(samples) * 1000
pss = 0.0
with open("/proc/self/smaps_rollup") as handle:  # Linux: shared pages counted once
    for line in handle:
        if line.startswith("Pss:"):
            pss = int(line.split()[1]) / 1024
print(json.dumps({"first_recommendation_s": round(first, 2),
                  "uncached_p50_ms": round(float(np.percentile(ms, 50)), 2),
                  "uncached_p95_ms": round(float(np.percentile(ms, 95)), 2),
                  "pss_after_200_mib": round(pss), "torch_imported": "torch" in sys.modules}))
"""


def new_member_figures(models_dir: Path) -> dict:
    # The registry reads no Django: the served version's metadata, parsed as the site parses it.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gnn.bridge import registry

    served = registry.served(models_dir)
    if served is None:
        return {}
    out = {"training_seconds_in_metadata": served.training_seconds, "phases": served.phases}
    for protocol in ("warm", "cold", "first_5", "random_5"):
        figures = {
            method: served.figure(protocol, "ndcg_at_10", method)
            for method in ("model", "group_popularity", "popularity", "ease")
        }
        out[protocol] = {method: value for method, value in figures.items() if value is not None}
    return out


def environment(work: Path, database: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CACHE_"))}
    env.update(DEBUG="true", READ_DOTENV="false", DATA_DIR=str(work / "data"),
               MODELS_DIR=str(work / "models"), LOG_FORMAT="plain",
               DJANGO_SETTINGS_MODULE="recommender.settings",
               PYTHONPATH=str(ROOT))  # fmt: skip
    env["DATABASE_URL"] = database or f"sqlite:///{work / 'db.sqlite3'}"
    return env


def serve(env: dict) -> dict:
    """A serving process: its first recommendation (the model load included),
    200 uncached ones, its memory after them."""
    served = run_step("serve", [PYTHON, "-c", SERVE], env)
    figures = json.loads(served["output"].strip().splitlines()[-1])
    return {**figures, "peak_rss_mib": served["peak_rss_mib"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), help="a MovieLens release's size")
    parser.add_argument("--processes", type=int, default=1, help="training processes")
    parser.add_argument("--users", type=int)
    parser.add_argument("--movies", type=int)
    parser.add_argument("--ratings", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, help="an ml-100k-layout directory instead")
    parser.add_argument("--database", help="a PostgreSQL URL (dropped and created)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/reel-scale"))
    parser.add_argument("--skip-train", action="store_true", help="import only")
    parser.add_argument("--serve-only", action="store_true",
                        help="only the serving step, on an earlier run's --work")  # fmt: skip
    args = parser.parse_args()
    print("$ " + shlex.join([PYTHON, *sys.argv]), flush=True)
    if args.serve_only:
        print("serve: " + json.dumps(serve(environment(args.work, args.database))))
        return

    work = args.work
    if work.exists():
        subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    data = args.data
    if data is None:
        layout = "100k"
        if args.shape:
            users, movies, ratings, layout = SHAPES[args.shape]
        else:
            ratings = args.ratings or 1_000_000
            users = args.users or round(ratings / 165.6)  # MovieLens 1M's ratings per member
            movies = args.movies or min(round(users * 0.61), 6000)
        data = work / "dataset"
        made = time.perf_counter()
        subprocess.run([PYTHON, "fixtures/make_synthetic.py", "--users", str(users), "--movies",
                        str(movies), "--ratings", str(ratings), "--seed", str(args.seed),
                        "--layout", layout, "--out", str(data)],
                       cwd=ROOT, check=True, capture_output=True)  # fmt: skip
        print(f"dataset: {users:,} users, {movies:,} movies, ~{ratings:,} ratings "
              f"({time.perf_counter() - made:.1f} s)")  # fmt: skip

    env = environment(work, args.database)
    env["TRAINING_PROCESSES"] = str(args.processes)
    if args.database:
        name = args.database.rsplit("/", 1)[-1]
        admin = args.database.rsplit("/", 1)[0] + "/postgres"
        for sql in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
            subprocess.run(["psql", admin, "-qc", sql], check=True, capture_output=True)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    report: dict = {"database": "postgresql" if args.database else "sqlite",
                    "shape": args.shape, "processes": args.processes}  # fmt: skip
    seeded = run_step("seed_movielens", [PYTHON, "manage.py", "seed_movielens", "--source",
                                         str(data)], env)  # fmt: skip
    report["seed_movielens"] = {k: v for k, v in seeded.items() if k != "output"}
    print(f"seed_movielens: {seeded['seconds']} s, peak RSS {seeded['peak_rss_mib']} MiB")
    if not args.skip_train:
        trained = run_step("train_model", [PYTHON, "manage.py", "train_model"], env)
        report["train_model"] = {k: v for k, v in trained.items() if k != "output"}
        print(f"train_model: {trained['seconds']} s, peak RSS {trained['peak_rss_mib']} MiB")
        report["serve"] = serve(env)
        print("serve: " + ", ".join(f"{k} {v}" for k, v in report["serve"].items()))
        report["figures"] = new_member_figures(work / "models")
        for protocol in ("warm", "cold", "first_5", "random_5"):
            figures = report["figures"][protocol]
            print(f"NDCG@10 {protocol:9s}" + "".join(f"  {m} {v:.4f}" for m, v in figures.items()))
        if report["figures"]["phases"]:
            print(
                "phases: " + ", ".join(f"{k} {v} s" for k, v in report["figures"]["phases"].items())
            )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
