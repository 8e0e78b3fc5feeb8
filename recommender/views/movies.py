"""The catalogue's pages: the list with search and filters, and a movie's page.

They compose apps (the member's own ratings and watchlist on every movie, and
the model's similar movies), so they live in the composition root.
"""

from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, render

from catalog.forms import CatalogueFilterForm
from catalog.models import Movie
from catalog.selectors import movie_search
from events.models import OutcomeKind, Surface
from events.services import impression_record, outcome_record
from gnn.selectors import movie_fit, movies_similar_to, served_model
from ratings.selectors import ratings_of_movies, watchlist_movie_ids

PAGE_SIZE = 20


def movie_list(request):
    form = CatalogueFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        page = Paginator(Movie.objects.none(), PAGE_SIZE).get_page(1)
        status = 400
    else:
        filters = form.cleaned_data if form.is_bound else {"sort": "popular"}
        movies = movie_search(**{k: v for k, v in filters.items() if v not in (None, "")})
        page = Paginator(movies, PAGE_SIZE).get_page(request.GET.get("page"))
        status = 200
    query = request.GET.copy()
    query.pop("page", None)
    my_ratings = ratings_of_movies(user=request.user, movie_ids=[m.pk for m in page])
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "my_ratings": my_ratings,
        "watching": watchlist_movie_ids(user=request.user, movie_ids=[m.pk for m in page]),
    }
    template = "catalog/movie_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context, status=status)


def movie_detail(request, movie_id: int):
    movie = get_object_or_404(Movie.objects.visible().prefetch_related("genres"), pk=movie_id)
    distribution = dict(
        movie.ratings.order_by()
        .values_list("value")
        .annotate(n=Count("pk"))
        .values_list("value", "n")
    )
    similar = movies_similar_to(movie=movie)
    shown = [movie.pk, *(m.pk for m in similar)]
    _opened_from_a_list(request, movie)
    served = served_model()
    impression_record(
        user=request.user,
        surface=Surface.SIMILAR,
        movie_ids=[m.pk for m in similar],
        version=served.version if served else "",
    )
    context = {
        "movie": movie,
        "similar": similar,
        "my_ratings": ratings_of_movies(user=request.user, movie_ids=shown),
        "watching": bool(watchlist_movie_ids(user=request.user, movie_ids=[movie.pk])),
        "fit": movie_fit(user=request.user, movie=movie),
        "distribution": [
            (
                value,
                distribution.get(value, 0),
                100 * distribution.get(value, 0) / max(movie.rating_count, 1),
            )
            for value in range(5, 0, -1)
        ],
    }
    return render(request, "catalog/movie_detail.html", context)


def _opened_from_a_list(request, movie: Movie) -> None:
    """A card's link says which list and position it was on (``via``,
    ``pos``): the page opening is an outcome of that list. A link edited by
    hand is only a page view: nothing is recorded, the page is the same."""
    via, pos = request.GET.get("via"), request.GET.get("pos", "")
    if via not in Surface.values or not (pos.isascii() and pos.isdigit() and len(pos) <= 3):
        return
    outcome_record(
        user=request.user, movie_id=movie.pk, kind=OutcomeKind.OPEN, position=int(pos) or None
    )
