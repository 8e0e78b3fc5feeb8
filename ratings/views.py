"""The rating history, the star widget's endpoints, the history's remove
button, "not interested" and the watchlist.

Every write works as a plain form post (redirect back to ``next``) and as an
htmx request (the widget re-rendered in place). A successful change sends the
``tasteChanged`` event, on which the recommendations panel reloads itself.
"""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from catalog.models import Movie
from core.ratelimit import RATINGS, limited
from ratings import services
from ratings.models import Rating
from ratings.selectors import rating_history, watchlist_of
from ratings.services import RatingError

TASTE_CHANGED = "tasteChanged"


def _next_url(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _login_first(request):
    # Encoded: a `next` of its own with a query (?genre=drama&page=2) comes back whole.
    login = f"{reverse('accounts:login')}?{urlencode({'next': _next_url(request, request.path)})}"
    if request.htmx:
        return HttpResponseClientRedirect(login)
    return redirect(login)


def _get_rating_for_user(user, rating_id: int) -> Rating:
    """The member's own rating, or 404: other people's ratings do not exist for them."""
    return get_object_or_404(Rating.objects.select_related("movie"), pk=rating_id, user=user)


def _widget(
    request, movie: Movie, *, value, error: str = "", saved: str = "", undo=None, status=200
):
    context = {
        "movie": movie,
        "my_ratings": {movie.pk: value} if value else {},
        "error": error,
        "saved": saved,
        "undo": undo,
        "next_url": _next_url(request, reverse("catalog:detail", args=[movie.pk])),
        "hide_clear": bool(request.POST.get("hide_clear")),
    }
    response = render(request, "ratings/stars.html#star-widget", context, status=status)
    if not error:
        trigger_client_event(response, TASTE_CHANGED, {"movie": movie.pk})
    return response


def movie_write(*, visible_only: bool = True):
    """What every write about one movie shares: POST only, counted against the
    ratings limit, by a logged-in member (anyone else is sent to log in, from
    htmx too), about a movie that exists (and is visible, unless the write
    takes something back: undoing works on a hidden movie too). The view is
    called with the movie instead of its id. A member deleted while the write
    was on its way gets 401 and nothing is written."""

    def decorate(view):
        @require_POST
        @limited(RATINGS)
        @functools.wraps(view)
        def write(request, movie_id: int):
            if not request.user.is_authenticated:
                return _login_first(request)
            movies = Movie.objects.visible() if visible_only else Movie.objects.all()
            movie = get_object_or_404(movies, pk=movie_id)
            try:
                return view(request, movie)
            except services.MemberGone as gone:
                # Deleted from another tab or device while this was sent.
                return HttpResponse(gone.message, status=401, content_type="text/plain")

        return write

    return decorate


def done(request, fragment, *, message: str, fallback: str):
    """The answer to a write that worked: htmx gets ``fragment()`` back, a
    plain form post a message and the page it came from (``next``)."""
    if request.htmx:
        return fragment()
    messages.success(request, message)
    return redirect(_next_url(request, fallback))


def _taste_changed(movie_id: int, response=None):
    return trigger_client_event(response or HttpResponse(""), TASTE_CHANGED, {"movie": movie_id})


@movie_write()
def rate(request, movie: Movie):
    """Set (``value`` 1-5) or remove (``clear``) the member's rating of a movie."""
    fallback = reverse("catalog:detail", args=[movie.pk])
    before = Rating.objects.filter(user=request.user, movie=movie).values_list("value", flat=True)
    previous = before.first()
    try:
        if "clear" in request.POST:
            services.rating_remove(user=request.user, movie=movie)
            value, saved = None, "Rating removed"
        else:
            write = services.rating_set(
                user=request.user, movie=movie, value=request.POST.get("value")
            )
            value, saved = write.rating.value, "Saved"
    except RatingError as exc:
        if request.htmx:
            current = Rating.objects.filter(user=request.user, movie=movie).first()
            value = current and current.value
            return _widget(request, movie, value=value, error=exc.message, status=422)
        messages.error(request, exc.message)
        return redirect(_next_url(request, fallback))
    # Undo puts back what was there: the earlier rating, or none.
    if previous == value:
        undo = None
    elif previous:
        undo = {"name": "value", "value": previous, "label": f"back to {previous} stars"}
    else:
        undo = {"name": "clear", "value": 1, "label": f"remove your rating of {movie.title}"}
    return done(
        request,
        lambda: _widget(request, movie, value=value, saved=saved, undo=undo),
        message=f"{saved}: {movie.title}.",
        fallback=fallback,
    )


@login_required
@require_POST
@limited(RATINGS)
def rating_delete(request, rating_id: int):
    """Remove one of the member's ratings by id (the history page's button)."""
    rating = _get_rating_for_user(request.user, rating_id)
    services.rating_remove(user=request.user, movie=rating.movie)
    return done(
        request,
        lambda: _taste_changed(rating.movie_id),
        message=f"Removed your rating of {rating.movie.title}.",
        fallback=reverse("accounts:history"),
    )


@movie_write()
def dismiss(request, movie: Movie):
    """Not interested: never recommend this movie to the member again (undo on profile)."""
    services.dismissal_add(user=request.user, movie=movie)
    return done(
        request,
        lambda: _taste_changed(movie.pk),
        message=f"You will not be recommended {movie.title} again.",
        fallback=reverse("home"),
    )


@movie_write(visible_only=False)
def undismiss(request, movie: Movie):
    if not services.dismissal_remove(user=request.user, movie=movie):
        return HttpResponse("You had not dismissed this movie.", status=404)
    return done(
        request,
        lambda: _taste_changed(movie.pk),
        message=f"{movie.title} can be recommended again.",
        fallback=reverse("accounts:profile"),
    )


HISTORY_PAGE_SIZE = 20


@login_required
def history(request):
    page = Paginator(rating_history(user=request.user), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    my_ratings = {rating.movie_id: rating.value for rating in page}
    return render(request, "accounts/history.html", {"page": page, "my_ratings": my_ratings})


WATCHLIST_PAGE_SIZE = 20


@login_required
@require_GET
def watchlist(request):
    page = Paginator(watchlist_of(user=request.user), WATCHLIST_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "ratings/watchlist.html", {"page": page, "my_ratings": {}})


def _watch_button(request, movie: Movie, watching: bool):
    context = {"movie": movie, "watching": watching, "next_url": _next_url(request, "")}
    return _taste_changed(movie.pk, render(request, "ratings/watch.html#watch-button", context))


@movie_write()
def watch(request, movie: Movie):
    """Want to watch: on the watchlist, out of the recommendations."""
    services.watchlist_add(user=request.user, movie=movie)
    return done(
        request,
        lambda: _watch_button(request, movie, True),
        message=f"{movie.title} is on your watchlist.",
        fallback=reverse("ratings:watchlist"),
    )


@movie_write(visible_only=False)
def unwatch(request, movie: Movie):
    if not services.watchlist_remove(user=request.user, movie=movie):
        return HttpResponse("This movie is not on your watchlist.", status=404)
    return done(
        request,
        lambda: _watch_button(request, movie, False),
        message=f"{movie.title} is off your watchlist.",
        fallback=reverse("ratings:watchlist"),
    )
