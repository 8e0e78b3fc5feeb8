from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, render

from catalog.forms import CatalogueFilterForm
from catalog.models import Movie
from catalog.selectors import movie_search
from gnn.service import movies_similar_to
from ratings.selectors import attach_my_ratings, ratings_of_movies

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
        page.object_list = attach_my_ratings(user=request.user, movies=page.object_list)
        status = 200
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    template = "catalog/movie_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context, status=status)


def movie_detail(request, movie_id: int):
    movie = get_object_or_404(Movie.objects.visible().prefetch_related("genres"), pk=movie_id)
    movie.my_rating = ratings_of_movies(user=request.user, movie_ids=[movie.pk]).get(movie.pk)
    distribution = dict(
        movie.ratings.order_by()
        .values_list("value")
        .annotate(n=Count("pk"))
        .values_list("value", "n")
    )
    similar = attach_my_ratings(user=request.user, movies=movies_similar_to(movie=movie, n=6))
    context = {
        "movie": movie,
        "similar": similar,
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
