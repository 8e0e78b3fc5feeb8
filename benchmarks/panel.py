"""Server time of the recommendations panel (the htmx partial), in-process.

    python benchmarks/panel.py [--repeat 200]

Needs MovieLens imported and a model serving (like benchmarks/inference.py).
Logs a member with 20 ratings in through Django's test client and asks for
GET /recommendations/?n=10 as the page's htmx does (the whole WSGI handler,
middleware, session, CSRF, the view, the template; no network). Prints the
median and p95 of ``--repeat`` answers cached (after one warming request)
and uncached (every cache, the process's recent answers included, emptied
before each request, so the list is computed and the panel rendered), and
the queries one cached answer costs.
"""

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")

import django

django.setup()

import numpy as np  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import User  # noqa: E402


def _process_state():
    """The process's memo of recent answers (where this checkout keeps it)."""
    for module in ("gnn.bridge.state", "gnn.edge.state"):
        try:
            return __import__(module, fromlist=["process_state"]).process_state
        except ImportError:
            continue
    return None


def _forget_everything(state) -> None:
    cache.clear()
    if state is not None:
        state.recent_answers = type(state.recent_answers)(2000, 3600)


def _summary(samples: list[float]) -> str:
    ms = np.array(samples) * 1000
    return f"median {np.median(ms):.3f} ms   p95 {np.percentile(ms, 95):.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("recommender.web").handlers = [logging.NullHandler()]
    logging.getLogger("recommender.web").propagate = False

    user = User.objects.annotate(n=Count("ratings")).filter(n__gte=20).order_by("n").first()
    if user is None:
        sys.exit("No member with 20 ratings: import MovieLens first.")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    client.get("/")  # the page sets the CSRF cookie the panel's forms use
    headers = {"HTTP_HX_REQUEST": "true"}
    url = "/recommendations/?n=10"
    state = _process_state()
    first = client.get(url, **headers)
    if first.status_code != 200:
        sys.exit(f"GET {url}: {first.status_code} {first.content[:200]!r}")

    queries = []

    def record(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        client.get(url, **headers)
    cached = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        client.get(url, **headers)
        cached.append(time.perf_counter() - started)
    uncached = []
    for _ in range(args.repeat):
        _forget_everything(state)
        started = time.perf_counter()
        client.get(url, **headers)
        uncached.append(time.perf_counter() - started)
    print(f"GET {url} as htmx, {args.repeat} answers each, member with {user.ratings.count()}")
    print(f"  cached:   {_summary(cached)}   {len(queries)} queries an answer")
    print(f"  uncached: {_summary(uncached)}")


if __name__ == "__main__":
    main()
