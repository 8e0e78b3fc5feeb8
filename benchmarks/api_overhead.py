"""Server time of a cached recommendation answer over the API, in-process.

    python benchmarks/api_overhead.py [--repeat 200] [--profile]

Needs MovieLens imported and a model serving (like benchmarks/inference.py).
Sends GET /api/recommendations/{id} with a Bearer token through Django's test
client (the whole WSGI handler, middleware, authentication, the view, the
response schema and the access log; no network), after one warming request so
every answer is a cache hit, and prints the median and p95 of ``--repeat``
answers and the queries one answer costs. ``--profile`` adds the functions
that take the most time. The token is created for the run and deleted after.
"""

import argparse
import cProfile
import logging
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")

import django

django.setup()

import numpy as np  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import ApiToken, User  # noqa: E402
from accounts.services import api_token_create, token_hash  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="pstats order for --profile")
    args = parser.parse_args()
    # The access log goes to a handler like in production, not to this terminal.
    logging.getLogger("recommender.web").handlers = [logging.NullHandler()]
    logging.getLogger("recommender.web").propagate = False

    user = User.objects.annotate(n=Count("ratings")).filter(n__gte=20).order_by("n").first()
    if user is None:
        sys.exit("No member with 20 ratings: import MovieLens first.")
    token = api_token_create(user=user)
    try:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="localhost")
        url = f"/api/recommendations/{user.pk}?n=10"
        first = client.get(url)
        if first.status_code != 200:
            sys.exit(f"GET {url}: {first.status_code} {first.content[:200]!r}")
        queries = []

        def record(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):
            answer = client.get(url)
        assert answer.json()["cached"], "the second answer should come from the cache"
        samples = []
        profile = cProfile.Profile() if args.profile else None
        for _ in range(args.repeat):
            started = time.perf_counter()
            if profile:
                profile.enable()
            client.get(url)
            if profile:
                profile.disable()
            samples.append(time.perf_counter() - started)
        ms = np.array(samples) * 1000
        print(
            f"cached GET /api/recommendations/{{id}} ({args.repeat} answers): "
            f"median {np.median(ms):.3f} ms   p95 {np.percentile(ms, 95):.3f} ms   "
            f"{len(queries)} queries an answer"
        )
        for sql in queries:
            print(f"  query: {sql[:110]}")
        if profile:
            pstats.Stats(profile).sort_stats(args.sort).print_stats(35)
    finally:
        ApiToken.objects.filter(key_hash=token_hash(token)).delete()


if __name__ == "__main__":
    main()
