"""Onboarding, the first step after sign-up: movies to rate, chosen to learn
the most about a newcomer, each answer replaced by the next choice."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from catalog.models import Movie
from events.models import Surface
from events.services import impression_record
from gnn.selectors import ONBOARDING_PAGE, movies_to_ask, served_model
from ratings import services as ratings
from ratings.services import RatingError
from ratings.views import movie_write

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
    movies = movies_to_ask(user=request.user, keep=keep)
    served = served_model()
    impression_record(
        user=request.user,
        surface=Surface.ONBOARDING,
        movie_ids=[m.pk for m in movies],
        version=served.version if served else "",
    )
    return {
        "movies": movies,
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
