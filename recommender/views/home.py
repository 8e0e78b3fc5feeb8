"""The home page: popular movies for visitors, the recommendations panel for
members (and the panel alone, for htmx). It calls services and selectors
only; the model itself stays behind gnn.selectors."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from catalog.selectors import popular_movies
from events.models import Surface
from events.services import impression_record
from experiments.selectors import assignment_for, interleaved_recommendations
from gnn.selectors import (
    ListQuery,
    RecommendationError,
    catalogue_filters,
    list_query,
    recommendations_for,
    rendered_recommendations,
)
from gnn.services import recommendations_refresh

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


def _shelf_link(query: ListQuery) -> str:
    """The query string of the panel's shelf (size, genre, decade)."""
    on = query.on
    link = {"n": query.n, **({"genre": on.genre} if on.genre else {})}
    if on.decade:
        link["decade"] = on.decade
    return urlencode(link)


def _panel_context(query: ListQuery, error: str, recommendations) -> dict:
    on = query.on
    filters = catalogue_filters()
    return {
        "recommendations": recommendations,
        "n": query.n,
        "panel_sizes": PANEL_SIZES,
        "shelf": on,
        "genres": filters.genres,
        "decades": filters.decades,
        "panel_query": _shelf_link(query),
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
    assignment = assignment_for(user=request.user, surface=Surface.PANEL)
    recommendations = _member_list(request, query, assignment)
    context = _panel_context(query, error, recommendations)
    return render(request, "home/member.html", context, status=400 if error else 200)


def _member_list(request, query: ListQuery, assignment):
    """The member's list, ranked by their arm's version (or interleaved),
    and its impression recorded."""
    teams = None
    if assignment and assignment.interleaved:
        recommendations, teams = interleaved_recommendations(
            user=request.user, query=query, experiment=assignment.experiment
        )
        version = f"{assignment.experiment.version_a}+{assignment.experiment.version_b}"
    else:
        version = assignment.version if assignment else None
        recommendations = recommendations_for(user=request.user, query=query, version=version)
        version = recommendations.model_version
    _impression(request.user, assignment, [i.movie.pk for i in recommendations.items], version,
                teams)  # fmt: skip
    return recommendations


def _impression(user, assignment, movie_ids: list[int], version: str | None, teams=None) -> None:
    """The list shown, with the experiment's arm that chose its ranker."""
    impression_record(
        user=user,
        surface=Surface.PANEL,
        movie_ids=movie_ids,
        version=version or "",
        arm=assignment.arm if assignment else "",
        experiment_id=assignment.experiment.pk if assignment else None,
        teams=teams,
    )


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
    assignment = assignment_for(user=request.user, surface=Surface.PANEL)
    version = assignment.version if assignment else None
    if error or not secret or (assignment and assignment.interleaved):
        # Interleaved lists are drawn afresh each time: never a kept rendering.
        recommendations = _member_list(request, query, assignment)
        response = HttpResponse(panel(recommendations), status=422 if error else 200)
    else:
        rendered = rendered_recommendations(
            user=request.user,
            query=query,
            render=panel,
            kind=f"panel:{secret}",
            shows_cached=False,
            version=version,
        )
        _impression(request.user, assignment, list(rendered.movie_ids), rendered.version)
        response = HttpResponse(rendered.body)
    if request.htmx and request.htmx.trigger == "panel-tools" and not error:
        # The member chose a shelf: the address bar says so (shareable, and
        # Back returns to the shelf before).
        response["HX-Push-Url"] = f"{reverse('home')}?{_shelf_link(query)}"
    return response
