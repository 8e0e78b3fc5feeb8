"""The figures of the staff Operations page, gathered in one place."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from core import metrics
from core.charts import bar_chart, line_chart
from gnn.models import ModelVersion, TrainingRun
from gnn.selectors import served_model
from gnn.services import retraining_status
from ratings.models import Rating

DAYS = 30


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 2) if seconds is not None else None


def overview() -> dict:
    return {
        "served": served_model(),
        **_latency(),
        "recommendation": _recommendation_cache(),
        **_ratings(),
        **_training(),
        "errors": metrics.error_rate(),
        "retraining": retraining_status(),
        "days": DAYS,
    }


def _latency() -> dict:
    """Request latency per view, the slowest first by p95 on the chart."""
    views = metrics.latency_quantiles("recommender_request_seconds", "view")
    rows = sorted(
        (
            {
                "view": view,
                "count": figures["count"],
                "p50": _ms(figures.get(0.5)),
                "p95": _ms(figures.get(0.95)),
                "p99": _ms(figures.get(0.99)),
            }
            for view, figures in views.items()
        ),
        key=lambda row: -row["count"],
    )[:12]
    chart = bar_chart([row["p95"] or 0 for row in rows], [row["view"] for row in rows])
    return {"latency_rows": rows, "latency_chart": chart}


def _recommendation_cache() -> dict:
    recs = metrics.latency_quantiles("recommender_recommendation_seconds", "cache")
    hits = recs.get("hit", {}).get("count", 0)
    misses = recs.get("miss", {}).get("count", 0)
    return {
        "hit_rate": round(100 * hits / (hits + misses), 1) if hits + misses else None,
        "hit_p95": _ms(recs.get("hit", {}).get(0.95)),
        "miss_p95": _ms(recs.get("miss", {}).get(0.95)),
        "count": hits + misses,
    }


def _ratings() -> dict:
    """Ratings per day over the last DAYS days."""
    since = timezone.now() - timedelta(days=DAYS - 1)
    per_day = dict(
        Rating.objects.filter(created_at__date__gte=since.date())
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values_list("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    days = [(since + timedelta(days=i)).date() for i in range(DAYS)]
    chart = bar_chart(
        [per_day.get(day, 0) for day in days], [day.strftime("%d %b") for day in days]
    )
    return {
        "ratings_chart": chart,
        "ratings_total": Rating.objects.count(),
        "ratings_recent": sum(per_day.values()),
    }


def _training() -> dict:
    """The latest runs, the quality of the versions the latest successful runs
    published, and how long runs took."""
    published = list(
        ModelVersion.objects.filter(training_run__status=TrainingRun.Status.SUCCEEDED).order_by(
            "-created_at", "-version"
        )[:15]
    )[::-1]
    labels = [v.version for v in published]

    def series(protocol: str, name: str) -> list[float | None]:
        return [v.figure(protocol, name) for v in published]

    finished = list(
        TrainingRun.objects.exclude(started_at=None)
        .exclude(finished_at=None)
        .order_by("-finished_at")[:15]
    )[::-1]
    return {
        "runs": list(
            TrainingRun.objects.select_related("model_version").order_by("-created_at")[:10]
        ),
        "quality_chart": line_chart(
            {
                "NDCG@10 members": series("warm", "ndcg_at_10"),
                "NDCG@10 new members": series("cold", "ndcg_at_10"),
                "NDCG@10 after 5 ratings": series("first_5", "ndcg_at_10"),
            },
            labels,
        ),
        "rmse_chart": line_chart({"RMSE": series("warm", "rmse")}, labels),
        "duration_chart": line_chart(
            {
                "minutes": [
                    r.duration_seconds / 60 if r.duration_seconds else None for r in finished
                ]
            },
            [f"#{r.pk} {r.get_status_display()}" for r in finished],
        ),
    }
