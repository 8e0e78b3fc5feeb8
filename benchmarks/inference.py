"""Latency of the recommendation service on full MovieLens 100K.

    python benchmarks/inference.py [--repeat 200]

Needs MovieLens imported (make run, or manage.py seed_movielens) and a trained
model serving (manage.py train_model). Measures, in one process, side by side:
recommendations_for() for a cold user, a user with 20 ratings and one with
200 ratings, with the cache cold (recomputed each call) and warm; one
full-graph forward pass for comparison; and the process's resident memory.
Nothing is written to the database (the users are built in memory).
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")

import django

django.setup()

import numpy as np  # noqa: E402
from django.core.cache import cache  # noqa: E402

from accounts.models import User  # noqa: E402
from gnn import selectors  # noqa: E402
from gnn.bridge.serving import get_service  # noqa: E402
from ratings.models import Rating  # noqa: E402


def percentiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1000
    return f"p50 {np.percentile(ms, 50):7.3f} ms   p95 {np.percentile(ms, 95):7.3f} ms"


def user_with(count: int) -> User:
    """A MovieLens member with at least ``count`` ratings, or a new one for 0."""
    if count == 0:
        return User(pk=10**9, username="benchmark-cold", age=30, gender="F", occupation="writer")
    from django.db.models import Count

    return User.objects.annotate(n=Count("ratings")).filter(n__gte=count).order_by("n").first()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    started = time.perf_counter()
    engine = get_service().engine()
    if engine is None:
        sys.exit("No model is serving: run `python manage.py train_model` first.")
    print(
        f"model {engine.version}: {len(engine.movie_ids)} movies; "
        f"first load (serving arrays + catalogue) {time.perf_counter() - started:.2f} s"
    )

    for count in (0, 20, 200):
        user = user_with(count)
        rated = Rating.objects.filter(user=user).count()
        for label, clear in (("cache cold", True), ("cache warm", False)):
            samples = []
            selectors.recommendations_for(user=user, query=selectors.ListQuery(n=10))
            for _ in range(args.repeat):
                if clear:
                    cache.clear()
                t = time.perf_counter()
                selectors.recommendations_for(user=user, query=selectors.ListQuery(n=10))
                samples.append(time.perf_counter() - t)
            name = f"user with {rated} ratings, {label}"
            print(f"{name:38s} {percentiles(samples)}")
        # The model part alone: no database, no cache.
        pairs = (
            list(Rating.objects.filter(user=user).values_list("movie_id", "value")) if rated else []
        )
        samples = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            engine.recommend(user=user, rated=pairs, exclude={m for m, _ in pairs}, k=120)
            samples.append(time.perf_counter() - t)
        print(f"{'  of which the model (embed + score)':38s} {percentiles(samples)}")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {rss:.0f} MiB")
    print(f"proportional set size now: {_pss_mib():.0f} MiB")
    print(f"torch imported: {'torch' in sys.modules}")


def _pss_mib() -> float:
    """PSS from /proc (Linux): shared pages counted once across processes."""
    try:
        with open("/proc/self/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


if __name__ == "__main__":
    main()
