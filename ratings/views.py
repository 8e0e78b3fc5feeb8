"""The star widget's endpoints, the history's remove button, "not interested"
and the watchlist.

Every write works as a plain form post (redirect back to ``next``) and as an
htmx request (the widget re-rendered in place). A successful change sends the
``tasteChanged`` event, on which the recommendations panel reloads itself.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from catalog.models import Movie
from core.ratelimit import RATINGS, limited
from ratings import services
from ratings.models import Rating
from ratings.selectors import watchlist_of
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
    login = f"{reverse('accounts:login')}?next={_next_url(request, request.path)}"
    if request.htmx:
        return HttpResponseClientRedirect(login)
    return redirect(login)


def _get_rating_for_user(user, rating_id: int) -> Rating:
    """The member's own rating, or 404: other people's ratings do not exist for them."""
    return get_object_or_404(Rating.objects.select_related("movie"), pk=rating_id, user=user)


def _widget(request, movie: Movie, *, value, error: str = "", saved: str = "", status=200):
    context = {
        "movie": movie,
        "my_ratings": {movie.pk: value} if value else {},
        "error": error,
        "saved": saved,
        "next_url": _next_url(request, reverse("catalog:detail", args=[movie.pk])),
        "hide_clear": bool(request.POST.get("hide_clear")),
    }
    response = render(request, "ratings/stars.html#star-widget", context, status=status)
    if not error:
        trigger_client_event(response, TASTE_CHANGED, {"movie": movie.pk})
    return response


@require_POST
@limited(RATINGS)
def rate(request, movie_id: int):
    """Set (``value`` 1-5) or remove (``clear``) the member's rating of a movie."""
    if not request.user.is_authenticated:
        return _login_first(request)
    movie = get_object_or_404(Movie.objects.visible(), pk=movie_id)
    fallback = reverse("catalog:detail", args=[movie.pk])
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
        current = Rating.objects.filter(user=request.user, movie=movie).first()
        if request.htmx:
            return _widget(
                request, movie, value=current and current.value, error=exc.message, status=422
            )
        messages.error(request, exc.message)
        return redirect(_next_url(request, fallback))
    if request.htmx:
        return _widget(request, movie, value=value, saved=saved)
    messages.success(request, f"{saved}: {movie.title}.")
    return redirect(_next_url(request, fallback))


@login_required
@require_POST
@limited(RATINGS)
def rating_delete(request, rating_id: int):
    """Remove one of the member's ratings by id (the history page's button)."""
    rating = _get_rating_for_user(request.user, rating_id)
    services.rating_remove(user=request.user, movie=rating.movie)
    if request.htmx:
        response = HttpResponse("")
        return trigger_client_event(response, TASTE_CHANGED, {"movie": rating.movie_id})
    messages.success(request, f"Removed your rating of {rating.movie.title}.")
    return redirect(_next_url(request, reverse("accounts:history")))


@require_POST
@limited(RATINGS)
def dismiss(request, movie_id: int):
    """Not interested: never recommend this movie to the member again (undo on profile)."""
    if not request.user.is_authenticated:
        return _login_first(request)
    movie = get_object_or_404(Movie.objects.visible(), pk=movie_id)
    services.dismissal_add(user=request.user, movie=movie)
    if request.htmx:
        response = HttpResponse("")
        return trigger_client_event(response, TASTE_CHANGED, {"movie": movie.pk})
    messages.success(request, f"You will not be recommended {movie.title} again.")
    return redirect(_next_url(request, reverse("home")))


@login_required
@require_POST
@limited(RATINGS)
def undismiss(request, movie_id: int):
    movie = get_object_or_404(Movie, pk=movie_id)
    if not services.dismissal_remove(user=request.user, movie=movie):
        return HttpResponse("You had not dismissed this movie.", status=404)
    if request.htmx:
        return trigger_client_event(HttpResponse(""), TASTE_CHANGED, {"movie": movie.pk})
    messages.success(request, f"{movie.title} can be recommended again.")
    return redirect(_next_url(request, reverse("accounts:profile")))


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
    response = render(request, "ratings/watch.html#watch-button", context)
    return trigger_client_event(response, TASTE_CHANGED, {"movie": movie.pk})


@require_POST
@limited(RATINGS)
def watch(request, movie_id: int):
    """Want to watch: on the watchlist, out of the recommendations."""
    if not request.user.is_authenticated:
        return _login_first(request)
    movie = get_object_or_404(Movie.objects.visible(), pk=movie_id)
    services.watchlist_add(user=request.user, movie=movie)
    if request.htmx:
        return _watch_button(request, movie, True)
    messages.success(request, f"{movie.title} is on your watchlist.")
    return redirect(_next_url(request, reverse("ratings:watchlist")))


@login_required
@require_POST
@limited(RATINGS)
def unwatch(request, movie_id: int):
    movie = get_object_or_404(Movie, pk=movie_id)
    if not services.watchlist_remove(user=request.user, movie=movie):
        return HttpResponse("This movie is not on your watchlist.", status=404)
    if request.htmx:
        return _watch_button(request, movie, False)
    messages.success(request, f"{movie.title} is off your watchlist.")
    return redirect(_next_url(request, reverse("ratings:watchlist")))
