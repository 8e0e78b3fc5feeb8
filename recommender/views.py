"""Pages that bring the apps together: the home page, the recommendations
panel and the model page. They call services and selectors only; the model
itself stays behind gnn.selectors."""

from django import forms
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from catalog.selectors import popular_movies
from core import metrics
from core.ratelimit import client_ip
from gnn.models import TrainingRun
from gnn.reporting import floor_names, metric_rows
from gnn.selectors import (
    recommendations_for,
    refresh_recommendations,
    served_key,
    served_model,
)
from recommender import collectors, operations

PANEL_SIZES = (10, 20)


class PanelQuery(forms.Form):
    """The panel's query string; anything else (², 5,000 digits, NUL) is the default."""

    n = forms.TypedChoiceField(
        choices=[(str(size), size) for size in PANEL_SIZES], coerce=int, required=False
    )

    @classmethod
    def size(cls, request) -> int:
        form = cls(request.GET)
        return (form.cleaned_data["n"] or PANEL_SIZES[0]) if form.is_valid() else PANEL_SIZES[0]


def _panel_context(request) -> dict:
    n = PanelQuery.size(request)
    if request.GET.get("refresh"):
        refresh_recommendations(user=request.user)
    recommendations = recommendations_for(user=request.user, n=n)
    return {
        "recommendations": recommendations,
        "n": n,
        "panel_sizes": PANEL_SIZES,
        "my_ratings": {},  # rated movies are never recommended
    }


@require_GET
def home(request):
    if not request.user.is_authenticated:
        # Visitors see "log in to rate" instead of stars: no ratings to read.
        return render(request, "home/visitor.html", {"movies": popular_movies(limit=12)})
    context = _panel_context(request)
    shown = {item.movie.pk for item in context["recommendations"].items}
    rated = request.user.ratings.values("movie_id")
    # Unrated by construction: the panel's empty my_ratings serves them too.
    context["to_rate"] = [
        m for m in popular_movies(exclude_ids=rated, limit=14) if m.pk not in shown
    ][:6]
    return render(request, "home/member.html", context)


PANEL_CACHE_SECONDS = 300


@login_required
@require_GET
def recommendations_panel(request):
    """The panel alone, for htmx. Its HTML is cached per member, taste version,
    served model and size, so repeated reloads cost one cache read; the CSRF
    secret is in the key because the panel's forms carry a token for it."""
    key = ":".join(
        (
            "panel",
            served_key(),
            str(request.user.pk),
            str(request.user.taste_version),
            str(PanelQuery.size(request)),
            request.META.get("CSRF_COOKIE", ""),
        )
    )
    if not request.GET.get("refresh"):
        html = cache.get(key)
        if html is not None:
            return HttpResponse(html)
    response = render(request, "home/member.html#panel", _panel_context(request))
    cache.set(key, response.content, PANEL_CACHE_SECONDS)
    return response


@require_GET
def model_page(request):
    served = served_model()
    context = {"served": served}
    if served:
        meta = served.metadata
        context["rows"] = metric_rows(meta.get("metrics") or {})
        context["floor_names"] = floor_names()
        context["trained_at"] = parse_datetime(meta.get("created_at") or "")
        triggers = dict(TrainingRun.Trigger.choices)
        context["trigger"] = triggers.get(meta.get("trigger"), meta.get("trigger"))
    return render(request, "home/model.html", context)


@require_GET
def metrics_view(request):
    """Prometheus exposition: staff, or scrapers from METRICS_ALLOWED_IPS."""
    user = request.user
    staff = user.is_authenticated and user.is_staff
    if not staff and client_ip(request) not in settings.METRICS_ALLOWED_IPS:
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
