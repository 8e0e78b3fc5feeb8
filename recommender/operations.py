"""The figures of the staff Operations page, gathered in one place."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from core import metrics
from core.charts import bar_chart, line_chart
from gnn.models import TrainingRun
from gnn.selectors import served_model
from gnn.services import retraining_status
from ratings.models import Rating

DAYS = 30


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 2) if seconds is not None else None


def overview() -> dict:
    served = served_model()

    views = metrics.latency_quantiles("recommender_request_seconds", "view")
    latency_rows = sorted(
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
    latency_chart = bar_chart(
        [row["p95"] or 0 for row in latency_rows], [row["view"] for row in latency_rows]
    )

    recs = metrics.latency_quantiles("recommender_recommendation_seconds", "cache")
    hits = recs.get("hit", {}).get("count", 0)
    misses = recs.get("miss", {}).get("count", 0)
    recommendation = {
        "hit_rate": round(100 * hits / (hits + misses), 1) if hits + misses else None,
        "hit_p95": _ms(recs.get("hit", {}).get(0.95)),
        "miss_p95": _ms(recs.get("miss", {}).get(0.95)),
        "count": hits + misses,
    }

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
    ratings_chart = bar_chart(
        [per_day.get(day, 0) for day in days], [day.strftime("%d %b") for day in days]
    )

    runs = list(TrainingRun.objects.order_by("-created_at")[:10])
    succeeded = list(
        TrainingRun.objects.filter(status="succeeded")
        .exclude(version="")
        .order_by("-finished_at")[:15]
    )[::-1]

    def figure(run, protocol, name):
        return ((run.metrics or {}).get(protocol) or {}).get("model", {}).get(name)

    quality_chart = line_chart(
        {
            "NDCG@10 members": [figure(r, "warm", "ndcg_at_10") for r in succeeded],
            "NDCG@10 new members": [figure(r, "cold", "ndcg_at_10") for r in succeeded],
            "NDCG@10 after 5 ratings": [figure(r, "first_5", "ndcg_at_10") for r in succeeded],
        },
        [r.version for r in succeeded],
    )
    rmse_chart = line_chart(
        {"RMSE": [figure(r, "warm", "rmse") for r in succeeded]}, [r.version for r in succeeded]
    )
    finished = list(
        TrainingRun.objects.exclude(started_at=None)
        .exclude(finished_at=None)
        .order_by("-finished_at")[:15]
    )[::-1]
    duration_chart = line_chart(
        {"minutes": [r.duration_seconds / 60 if r.duration_seconds else None for r in finished]},
        [f"#{r.pk} {r.get_status_display()}" for r in finished],
        decimals=1,
    )
    return {
        "served": served,
        "latency_rows": latency_rows,
        "latency_chart": latency_chart,
        "recommendation": recommendation,
        "ratings_chart": ratings_chart,
        "ratings_total": Rating.objects.count(),
        "ratings_recent": sum(per_day.values()),
        "runs": runs,
        "quality_chart": quality_chart,
        "rmse_chart": rmse_chart,
        "duration_chart": duration_chart,
        "errors": metrics.error_rate(),
        "retraining": retraining_status(),
        "days": DAYS,
    }
