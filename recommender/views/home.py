"""The member's home: the recommendations panel, and onboarding after sign-up.
They call services and selectors only; the model itself stays behind
gnn.selectors."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from catalog.models import Movie
from catalog.selectors import popular_movies
from gnn.selectors import (
    ONBOARDING_PAGE,
    ListQuery,
    RecommendationError,
    catalogue_filters,
    list_query,
    movies_to_ask,
    recommendations_for,
    rendered_recommendations,
    served_model,
)
from gnn.services import recommendations_refresh
from ratings import services as ratings
from ratings.services import RatingError
from ratings.views import movie_write

PANEL_SIZES = (10, 20)


class PanelSize(forms.Form):
    """The panel's size; anything else (², 5,000 digits, NUL) is the default."""

    n = forms.TypedChoiceField(
        choices=[(str(size), size) for size in PANEL_SIZES], coerce=int, required=False
    )


def _panel_query(request) -> tuple[ListQuery, str]:
    """The panel's query string, parsed once: the list asked for, and the
    message when its filter is bad (then the list is unfiltered)."""
    form = PanelSize(request.GET)
    n = (form.cleaned_data["n"] or PANEL_SIZES[0]) if form.is_valid() else PANEL_SIZES[0]
    try:
        query = list_query(n=n, genre=request.GET.get("genre"), decade=request.GET.get("decade"))
    except RecommendationError as exc:
        return ListQuery(n=n), exc.message
    return query, ""


def _panel_context(query: ListQuery, error: str, recommendations) -> dict:
    on = query.on
    link = {"n": query.n, **({"genre": on.genre} if on.genre else {})}
    if on.decade:
        link["decade"] = on.decade
    filters = catalogue_filters()
    return {
        "recommendations": recommendations,
        "n": query.n,
        "panel_sizes": PANEL_SIZES,
        "shelf": on,
        "genres": filters.genres,
        "decades": filters.decades,
        "panel_query": urlencode(link),
        "filter_error": error,
        "my_ratings": {},  # rated movies are never recommended
    }


@require_GET
def home(request):
    if not request.user.is_authenticated:
        # Visitors see "log in to rate" instead of stars: no ratings to read.
        return render(request, "home/visitor.html", {"movies": popular_movies(limit=12)})
    query, error = _panel_query(request)
    if request.GET.get("refresh"):
        recommendations_refresh(user=request.user)
    recommendations = recommendations_for(user=request.user, query=query)
    context = _panel_context(query, error, recommendations)
    return render(request, "home/member.html", context, status=400 if error else 200)


@login_required
@require_GET
def recommendations_panel(request):
    """The panel alone, for htmx. Its HTML is kept in the recommendations'
    own answer cache (gnn.selectors.rendered_recommendations), so repeated
    reloads cost one cache read; the CSRF secret names the rendering because
    the panel's forms carry a token for it."""
    query, error = _panel_query(request)
    if request.GET.get("refresh"):
        recommendations_refresh(user=request.user)

    def panel(recommendations) -> bytes:
        context = _panel_context(query, error, recommendations)
        return render_to_string("home/member.html#panel", context, request).encode()

    secret = request.META.get("CSRF_COOKIE")
    if error or not secret:
        return HttpResponse(
            panel(recommendations_for(user=request.user, query=query)),
            status=422 if error else 200,
        )
    return HttpResponse(
        rendered_recommendations(
            user=request.user, query=query, render=panel, kind=f"panel:{secret}"
        )
    )


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


@movie_write()
def onboarding_answer(request, movie: Movie):
    """One answer: a rating (``value``) or "haven't seen it" (``unseen``).
    htmx gets the list back with the answered movie replaced by the next
    choice; a plain form post comes back to the page."""
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
