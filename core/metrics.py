"""Prometheus metrics: the counters and histograms every process keeps.

They live in each process; under gunicorn they are shared through
PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py) and summed when scraped.
Figures that the database already knows are collected by the composition
root at scrape time (``recommender.collectors``) and passed to
``exposition``, so this module imports no app.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import REGISTRY

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUEST_LATENCY = Histogram(
    "recommender_request_seconds",
    "Time to answer a request, by view.",
    ["view", "method"],
    buckets=LATENCY_BUCKETS,
)
REQUESTS = Counter(
    "recommender_requests_total", "Requests answered, by view and status.", ["view", "status"]
)
EVENTS = Counter(
    "recommender_events_total",
    "Events (impressions, outcomes) by what became of them: queued, spooled (Redis did not "
    "answer), refused (a member's bound), lost (could not be kept), written, discarded "
    "(member or movie deleted), rejected (unreadable).",
    ["kind", "outcome"],
)
RECOMMENDATION_LATENCY = Histogram(
    "recommender_recommendation_seconds",
    "Time of recommendations_for(), by whether the member's list was cached.",
    ["cache"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
RATINGS_WRITTEN = Counter(
    "recommender_ratings_written_total", "Ratings created, changed or removed.", ["kind"]
)


# Every label that comes from a request takes one of a few values: a method
# anyone can invent (curl -X ANYTHING) would otherwise make a new series in
# every process, without bound. Views are URL names, statuses the site's own.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(view: str, method: str, status: int, seconds: float) -> None:
    method = method if method in KNOWN_METHODS else "other"
    REQUEST_LATENCY.labels(view=view, method=method).observe(seconds)
    REQUESTS.labels(view=view, status=str(status)).inc()


def observe_recommendation(cached: bool, seconds: float) -> None:
    RECOMMENDATION_LATENCY.labels(cache="hit" if cached else "miss").observe(seconds)


def rating_written(kind: str) -> None:
    RATINGS_WRITTEN.labels(kind=kind).inc()


def exposition(*collectors) -> tuple[bytes, str]:
    """The text a Prometheus scrape gets: this process's (or, under gunicorn,
    every worker's summed) metrics, then those of ``collectors``."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    extra = CollectorRegistry()
    for collector in collectors:
        extra.register(collector)
    return generate_latest(processes) + generate_latest(extra), CONTENT_TYPE_LATEST


def _collected(name: str):
    """The metric family ``name`` summed over every process (gunicorn) or this one."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    for family in registry.collect():
        if family.name == name:
            return family
    return None


def latency_quantiles(name: str, by: str, quantiles=(0.5, 0.95, 0.99)) -> dict[str, dict]:
    """Approximate quantiles (seconds) per value of the label ``by``, from the
    histogram's buckets, interpolated linearly within a bucket."""
    family = _collected(name)
    if family is None:
        return {}
    buckets: dict[str, dict[float, float]] = {}
    for sample in family.samples:
        if sample.name.endswith("_bucket"):
            bound = float(sample.labels["le"])
            per = buckets.setdefault(sample.labels.get(by, ""), {})
            per[bound] = per.get(bound, 0.0) + sample.value  # summed over other labels
    result = {}
    for key, counts in buckets.items():
        pairs = sorted(counts.items())
        total = pairs[-1][1] if pairs else 0.0
        if not total:
            continue
        figures = {"count": int(total)}
        for q in quantiles:
            wanted, lower, below = q * total, 0.0, 0.0
            for bound, count in pairs:
                if count >= wanted:
                    if bound == float("inf"):
                        figures[q] = lower
                    else:
                        share = (wanted - below) / max(count - below, 1e-12)
                        figures[q] = lower + (bound - lower) * share
                    break
                lower, below = bound, count
        result[key] = figures
    return result


def error_rate() -> dict:
    """Requests answered and the share that were server errors (5xx), since
    the processes started (summed over gunicorn's workers)."""
    family = _collected("recommender_requests")
    total = errors = 0.0
    for sample in family.samples if family is not None else []:
        if not sample.name.endswith("_total"):
            continue
        total += sample.value
        if sample.labels.get("status", "").startswith("5"):
            errors += sample.value
    return {
        "requests": int(total),
        "errors": int(errors),
        "percent": round(100 * errors / total, 2) if total else None,
    }
