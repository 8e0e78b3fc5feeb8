from django.db.models import F, FloatField, QuerySet, Value
from django.db.models.functions import Cast

from catalog.forms import SORTS
from catalog.models import Movie

# "Best rated" ranks by a damped mean: a movie's ratings plus PRIOR_COUNT
# imaginary ratings at PRIOR_MEAN, so one lone 5-star does not top the list.
PRIOR_COUNT = 10
PRIOR_MEAN = 3.5


def movie_search(
    *,
    q: str = "",
    genre=None,
    year_min: int | None = None,
    year_max: int | None = None,
    sort: str = "popular",
) -> QuerySet[Movie]:
    movies = Movie.objects.visible().prefetch_related("genres")
    if q:
        movies = movies.filter(title__icontains=q.strip())
    if genre is not None:
        movies = movies.filter(genres=genre)
    if year_min is not None:
        movies = movies.filter(year__gte=year_min)
    if year_max is not None:
        movies = movies.filter(year__lte=year_max)
    if sort == "rating":
        damped = (Cast(F("rating_sum"), FloatField()) + Value(PRIOR_COUNT * PRIOR_MEAN)) / (
            Cast(F("rating_count"), FloatField()) + Value(float(PRIOR_COUNT))
        )
        return movies.annotate(damped_mean=damped).order_by("-damped_mean", "title", "pk")
    return movies.order_by(*SORTS.get(sort, SORTS["popular"])[1])


def popular_movies(*, exclude_ids=(), limit: int = 12) -> list[Movie]:
    """``exclude_ids`` may be a queryset of ids: it becomes a subquery."""
    return list(
        Movie.objects.visible()
        .exclude(pk__in=exclude_ids)
        .prefetch_related("genres")
        .order_by("-liked_count", "-rating_count", "title")[:limit]
    )
