from typing import Annotated

from django.core.cache import cache
from django.db.models import Avg, Count
from ninja import Field, Router, Schema, Status
from pydantic import StrictInt

from accounts.api import MEMBER, RatingOut, rating_out
from catalog.models import Movie
from ratings import services
from ratings.models import Rating
from ratings.services import RatingError
from recommender.api_common import AUTH_ERRORS, READ_ERRORS, ApiError, Id
from recommender.ratelimit import enforce

router = Router(tags=["ratings"])

Stars = Annotated[StrictInt, Field(ge=1, le=5, description="1 to 5 stars")]


class RatingIn(Schema):
    movie_id: Id
    value: Stars


class RatingChange(Schema):
    value: Stars


class GenreStats(Schema):
    genre: str
    count: int
    mean: float | None


class RatingStats(Schema):
    count: int
    mean: float | None
    distribution: dict[str, int]
    genres: list[GenreStats]


def own_rating(request, rating_id: int) -> Rating:
    rating = Rating.objects.select_related("movie").filter(pk=rating_id, user=request.auth).first()
    if rating is None:
        raise ApiError(404, "Not Found")
    return rating


def _write(request, movie: Movie, value) -> Status:
    try:
        write = services.rating_set(user=request.auth, movie=movie, value=value)
    except RatingError as exc:
        field = "movie_id" if exc.field == "movie" else "value"
        raise ApiError.invalid(field, exc.message) from None
    write.rating.movie = movie  # for the answer, without another query
    return Status(201 if write.created else 200, rating_out(write.rating))


@router.get("/ratings/stats", response={200: RatingStats, **READ_ERRORS}, auth=None)
def stats(request):
    """Every member's ratings: how many, their mean, their distribution, by genre."""
    cached = cache.get("api:rating-stats")
    if cached is not None:
        return cached
    overall = Rating.objects.aggregate(count=Count("pk"), mean=Avg("value"))
    distribution = dict(
        Rating.objects.order_by()
        .values_list("value")
        .annotate(n=Count("pk"))
        .values_list("value", "n")
    )
    genres = (
        Rating.objects.order_by()
        .values("movie__genres__name")
        .annotate(count=Count("pk"), mean=Avg("value"))
        .exclude(movie__genres__name=None)
        .order_by("movie__genres__name")
    )
    result = {
        "count": overall["count"],
        "mean": round(overall["mean"], 4) if overall["mean"] is not None else None,
        "distribution": {str(v): distribution.get(v, 0) for v in range(1, 6)},
        "genres": [
            {"genre": g["movie__genres__name"], "count": g["count"], "mean": round(g["mean"], 4)}
            for g in genres
        ],
    }
    cache.set("api:rating-stats", result, 60)
    return result


@router.post("/ratings", response={201: RatingOut, 200: RatingOut, **AUTH_ERRORS}, auth=MEMBER)
def rate(request, payload: RatingIn):
    """Rate a movie (201), or change your rating of it (200)."""
    enforce(request, "ratings", "RATE_LIMIT_RATINGS", "rating changes")
    movie = Movie.objects.visible().filter(pk=payload.movie_id).first()
    if movie is None:
        raise ApiError.invalid("movie_id", "There is no such movie.")
    return _write(request, movie, payload.value)


@router.put("/ratings/{rating_id}", response={200: RatingOut, **AUTH_ERRORS}, auth=MEMBER)
def change_rating(request, rating_id: Id, payload: RatingChange):
    enforce(request, "ratings", "RATE_LIMIT_RATINGS", "rating changes")
    rating = own_rating(request, rating_id)
    if not rating.movie.is_visible:
        raise ApiError(404, "Not Found")
    return Status(200, _write(request, rating.movie, payload.value).value)


@router.delete("/ratings/{rating_id}", response={204: None, **AUTH_ERRORS}, auth=MEMBER)
def delete_rating(request, rating_id: Id):
    enforce(request, "ratings", "RATE_LIMIT_RATINGS", "rating changes")
    rating = own_rating(request, rating_id)
    services.rating_remove(user=request.auth, movie=rating.movie)
    return Status(204, None)
