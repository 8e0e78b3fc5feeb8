"""The pages about the model and the site's operation: the model page for
everyone, the operations page and the Prometheus endpoint for staff."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core import metrics
from core.api import privileged
from gnn.models import TrainingRun
from gnn.reporting import curve_charts, floor_names, metric_rows
from gnn.selectors import served_model
from ratings.selectors import site_rating_stats
from recommender import collectors, operations


@require_GET
def model_page(request):
    served = served_model()
    site = site_rating_stats()
    total = max(site["count"], 1)
    context = {
        "served": served,
        "site": site,
        "site_distribution": [
            (
                value,
                site["distribution"][str(value)],
                100 * site["distribution"][str(value)] / total,
            )
            for value in range(5, 0, -1)
        ],
    }
    if served:
        meta = served.metadata
        context["rows"] = metric_rows(meta.metrics)
        context["floor_names"] = floor_names()
        context["trigger"] = dict(TrainingRun.Trigger.choices).get(meta.trigger, meta.trigger)
        context["curve"] = curve_charts(meta.history)
    return render(request, "home/model.html", context)


@require_GET
def metrics_view(request):
    """Prometheus exposition: staff, or scrapers from METRICS_ALLOWED_IPS."""
    if not privileged(request):
        return HttpResponse(
            "Forbidden: staff, or an address in METRICS_ALLOWED_IPS.\n",
            status=403,
            content_type="text/plain",
        )
    body, content_type = metrics.exposition(collectors.DatabaseCollector())
    return HttpResponse(body, content_type=content_type)


@staff_member_required
@require_GET
def ops_page(request):
    """Key figures at a glance, for people who would rather look than read."""
    return render(request, "home/ops.html", operations.overview())
