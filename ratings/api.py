from datetime import datetime
from typing import Annotated

from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictInt, model_validator

from accounts.api import MEMBER, visible_user
from catalog.models import Movie
from core.api import AUTH_ERRORS, MAX_PAGE, READ_ERRORS, ApiError, Id, PageMeta, paginate
from core.ratelimit import RATINGS, enforce
from ratings import services
from ratings.models import Rating
from ratings.selectors import rating_history, site_rating_stats, watchlist_of
from ratings.services import RatingError

router = Router(tags=["ratings"])

Stars = Annotated[StrictInt, Field(ge=1, le=5, description="1 to 5 stars")]


class RatingOut(Schema):
    id: int
    user_id: int
    movie_id: int
    movie_title: str
    value: int
    rating: int = Field(
        description="The same as value, under the name the first API clients were written "
        "against (kept so they keep working)."
    )
    created_at: datetime
    updated_at: datetime


class RatingPage(PageMeta):
    items: list[RatingOut]


def rating_out(rating) -> dict:
    return {
        "id": rating.pk,
        "user_id": rating.user_id,
        "movie_id": rating.movie_id,
        "movie_title": rating.movie.title,
        "value": rating.value,
        "rating": rating.value,
        "created_at": rating.created_at,
        "updated_at": rating.updated_at,
    }


class RatingChange(Schema):
    """The stars as ``value``, or as ``rating`` (the name the first API clients
    were written against; both are accepted, and must agree when both are sent)."""

    value: Stars | None = None
    rating: Stars | None = None

    @model_validator(mode="after")
    def _one_value(self):
        if self.value is None and self.rating is None:
            raise ValueError("send the stars as value (or rating)")
        if self.value is not None and self.rating is not None and self.value != self.rating:
            raise ValueError("value and rating differ: send one of them")
        if self.value is None:
            self.value = self.rating
        return self


class RatingIn(RatingChange):
    movie_id: Id
    user_id: Id | None = Field(None, description="Optional: the caller's own id.")


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
    return site_rating_stats()


@router.post("/ratings", response={201: RatingOut, 200: RatingOut, **AUTH_ERRORS}, auth=MEMBER)
def rate(request, payload: RatingIn):
    """Rate a movie (201), or change your rating of it (200)."""
    if payload.user_id is not None and payload.user_id != request.auth.pk:
        raise ApiError(404, "Not Found")  # other members' data does not exist for you
    enforce(request, RATINGS)
    movie = Movie.objects.visible().filter(pk=payload.movie_id).first()
    if movie is None:
        raise ApiError.invalid("movie_id", "There is no such movie.")
    return _write(request, movie, payload.value)


@router.put("/ratings/{rating_id}", response={200: RatingOut, **AUTH_ERRORS}, auth=MEMBER)
def change_rating(request, rating_id: Id, payload: RatingChange):
    enforce(request, RATINGS)
    rating = own_rating(request, rating_id)
    if not rating.movie.is_visible:
        raise ApiError(404, "Not Found")
    return Status(200, _write(request, rating.movie, payload.value).value)


@router.delete("/ratings/{rating_id}", response={204: None, **AUTH_ERRORS}, auth=MEMBER)
def delete_rating(request, rating_id: Id):
    enforce(request, RATINGS)
    rating = own_rating(request, rating_id)
    services.rating_remove(user=request.auth, movie=rating.movie)
    return Status(204, None)


@router.get("/users/{user_id}/ratings", response={200: RatingPage, **AUTH_ERRORS}, auth=MEMBER)
def user_ratings(
    request,
    user_id: Id,
    page: int = Query(1, ge=1, le=MAX_PAGE),
    page_size: int = Query(20, ge=1, le=100),
):
    """The member's ratings, newest first."""
    user = visible_user(request, user_id)
    items, meta = paginate(rating_history(user=user), page, page_size)
    return {**meta, "items": [rating_out(r) for r in items]}


# --- The watchlist ----------------------------------------------------------------


class WatchlistItemOut(Schema):
    movie_id: int
    movie_title: str
    added_at: datetime


class WatchlistPage(PageMeta):
    items: list[WatchlistItemOut]


def _watchlist_item_out(item) -> dict:
    return {"movie_id": item.movie_id, "movie_title": item.movie.title, "added_at": item.created_at}


@router.get("/users/{user_id}/watchlist", response={200: WatchlistPage, **AUTH_ERRORS}, auth=MEMBER)
def user_watchlist(
    request,
    user_id: Id,
    page: int = Query(1, ge=1, le=MAX_PAGE),
    page_size: int = Query(20, ge=1, le=100),
):
    """The movies the member wants to watch, newest first (left out of their
    recommendations; a rating takes a movie off)."""
    user = visible_user(request, user_id)
    items, meta = paginate(watchlist_of(user=user), page, page_size)
    return {**meta, "items": [_watchlist_item_out(i) for i in items]}


@router.put(
    "/watchlist/{movie_id}",
    response={201: WatchlistItemOut, 200: WatchlistItemOut, **AUTH_ERRORS},
    auth=MEMBER,
)
def watchlist_add(request, movie_id: Id):
    """Put a movie on your watchlist (201; 200 when it already was)."""
    enforce(request, RATINGS)
    movie = Movie.objects.visible().filter(pk=movie_id).first()
    if movie is None:
        raise ApiError(404, "Not Found")
    before = watchlist_of(user=request.auth).filter(movie=movie).exists()
    item = services.watchlist_add(user=request.auth, movie=movie)
    item.movie = movie
    return Status(200 if before else 201, _watchlist_item_out(item))


@router.delete("/watchlist/{movie_id}", response={204: None, **AUTH_ERRORS}, auth=MEMBER)
def watchlist_remove(request, movie_id: Id):
    enforce(request, RATINGS)
    movie = Movie.objects.filter(pk=movie_id).first()
    if movie is None or not services.watchlist_remove(user=request.auth, movie=movie):
        raise ApiError(404, "Not Found")
    return Status(204, None)
