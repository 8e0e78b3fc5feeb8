"""Pages that bring the apps together: the home page, the recommendations
panel and the model page. They call services and selectors only; the model
itself stays behind gnn.selectors."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from catalog.models import Movie
from catalog.selectors import popular_movies
from core import metrics
from core.ratelimit import RATINGS, client_ip, limited
from gnn.models import TrainingRun
from gnn.reporting import curve_charts, floor_names, metric_rows
from gnn.selectors import (
    ANY,
    ONBOARDING_PAGE,
    RecommendationError,
    Shelf,
    decades_shown,
    genre_names,
    movies_to_ask,
    recommendations_for,
    refresh_recommendations,
    served_key,
    served_model,
    shelf,
)
from ratings import services as ratings
from ratings.selectors import site_rating_stats
from ratings.services import RatingError
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


def _panel_shelf(request) -> tuple[Shelf, str]:
    """The panel's genre and decade filter, and the message when it is bad
    (then the list is unfiltered)."""
    try:
        return shelf(genre=request.GET.get("genre"), decade=request.GET.get("decade")), ""
    except RecommendationError as exc:
        return ANY, exc.message


def _panel_context(request) -> dict:
    n = PanelQuery.size(request)
    on, error = _panel_shelf(request)
    if request.GET.get("refresh"):
        refresh_recommendations(user=request.user, on=on)
    recommendations = recommendations_for(user=request.user, n=n, on=on)
    query = {"n": n, **({"genre": on.genre} if on.genre else {})}
    if on.decade:
        query["decade"] = on.decade
    return {
        "recommendations": recommendations,
        "n": n,
        "panel_sizes": PANEL_SIZES,
        "shelf": on,
        "genres": genre_names(),
        "decades": decades_shown(),
        "panel_query": urlencode(query),
        "filter_error": error,
        "my_ratings": {},  # rated movies are never recommended
    }


@require_GET
def home(request):
    if not request.user.is_authenticated:
        # Visitors see "log in to rate" instead of stars: no ratings to read.
        return render(request, "home/visitor.html", {"movies": popular_movies(limit=12)})
    context = _panel_context(request)
    status = 400 if context["filter_error"] else 200
    return render(request, "home/member.html", context, status=status)


# --- Onboarding: the first step after sign-up ------------------------------------

ONBOARDING_GOAL = 5  # ratings after which a newcomer's list is their own


def _shown_ids(values) -> list[int]:
    """The movie ids on the member's screen, from the form or the query
    string; anything that is not a small positive number is dropped."""
    ids = []
    for raw in values[: ONBOARDING_PAGE * 2]:
        if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 9:
            ids.append(int(raw))
    return ids


def _onboarding_context(request, keep, error: str = "") -> dict:
    return {
        "movies": movies_to_ask(user=request.user, keep=keep),
        "rated_count": request.user.ratings.count(),
        "goal": ONBOARDING_GOAL,
        "chosen": served_model() is not None,
        "error": error,
    }


@login_required
@require_GET
def onboarding(request):
    """Movies to rate, chosen to learn the most about this member; the ones
    already on the screen (``keep``) stay where they are."""
    context = _onboarding_context(request, _shown_ids(request.GET.getlist("keep")))
    return render(request, "home/onboarding.html", context)


@login_required
@require_POST
@limited(RATINGS)
def onboarding_answer(request, movie_id: int):
    """One answer: a rating (``value``) or "haven't seen it" (``unseen``).
    htmx gets the list back with the answered movie replaced by the next
    choice; a plain form post comes back to the page."""
    movie = get_object_or_404(Movie.objects.visible(), pk=movie_id)
    keep = [m for m in _shown_ids(request.POST.getlist("shown")) if m != movie.pk]
    error = ""
    try:
        if request.POST.get("unseen"):
            ratings.not_seen_add(user=request.user, movie=movie)
        else:
            ratings.rating_set(user=request.user, movie=movie, value=request.POST.get("value"))
    except RatingError as exc:
        error, keep = exc.message, [movie.pk, *keep]
    if request.htmx:
        context = _onboarding_context(request, keep, error)
        status = 422 if error else 200
        return render(request, "home/onboarding.html#deck", context, status=status)
    if error:
        messages.error(request, error)
    query = urlencode({"keep": keep}, doseq=True)
    return redirect(f"{reverse('onboarding')}?{query}" if keep else reverse("onboarding"))


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
            _panel_shelf(request)[0].key,
            request.META.get("CSRF_COOKIE", ""),
        )
    )
    if not request.GET.get("refresh"):
        html = cache.get(key)
        if html is not None:
            return HttpResponse(html)
    context = _panel_context(request)
    if context["filter_error"]:
        return render(request, "home/member.html#panel", context, status=422)
    response = render(request, "home/member.html#panel", context)
    cache.set(key, response.content, PANEL_CACHE_SECONDS)
    return response


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
