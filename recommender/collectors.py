"""Figures that the database already knows, read when /metrics is scraped.

They read several apps' models (training runs, ratings, the served version),
so they live in the composition root; every process and the Celery worker
agree on them because they come from the database, not from a process.
"""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily


class DatabaseCollector:
    """Training runs, ratings and the served version, read when scraped."""

    def collect(self):
        from django.conf import settings
        from django.db.models import Avg, Count, Max

        from gnn.bridge import registry
        from gnn.models import TrainingRun
        from ratings.models import Rating

        runs = GaugeMetricFamily(
            "recommender_training_runs", "Training runs by status.", labels=["status"]
        )
        for row in TrainingRun.objects.order_by().values("status").annotate(n=Count("pk")):
            runs.add_metric([row["status"]], row["n"])
        yield runs

        finished = TrainingRun.objects.filter(status="succeeded", started_at__isnull=False)
        durations = [r.duration_seconds for r in finished.order_by("-finished_at")[:20]]
        durations = [d for d in durations if d is not None]
        last = GaugeMetricFamily(
            "recommender_training_last_duration_seconds",
            "Duration of the last successful training run.",
        )
        last.add_metric([], durations[0] if durations else 0.0)
        yield last
        mean = GaugeMetricFamily(
            "recommender_training_mean_duration_seconds",
            "Mean duration of the last 20 successful training runs.",
        )
        mean.add_metric([], sum(durations) / len(durations) if durations else 0.0)
        yield mean

        ratings = GaugeMetricFamily("recommender_ratings", "Ratings in the database.")
        stats = Rating.objects.aggregate(n=Count("pk"), mean=Avg("value"), last=Max("updated_at"))
        ratings.add_metric([], stats["n"])
        yield ratings

        versions = registry.served_versions(settings.MODELS_DIR)
        served = GaugeMetricFamily(
            "recommender_model_info",
            "The model versions served (`current` first, marked role=current).",
            labels=["version", "role"],
        )
        for i, version in enumerate(versions):
            served.add_metric([version, "current" if i == 0 else "also"], 1)
        if not versions:
            served.add_metric(["none", "current"], 0)
        yield served
