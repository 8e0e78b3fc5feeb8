"""Recommendations and model information as JSON; the same service as the site."""

from django.http import HttpResponse
from ninja import Field, Query, Router, Schema

from accounts.api import MEMBER, visible_user
from catalog.api import MovieOut, movie_out
from core.api import AUTH_ERRORS, READ_ERRORS, ApiError, Id, Message, privileged
from events.models import Surface
from events.services import impression_record
from gnn.selectors import (
    RecommendationError,
    Recommendations,
    list_query,
    rendered_recommendations,
    served_model,
)
from gnn.services import recommendations_refresh

router = Router(tags=["recommendations"])


class MovieRef(Schema):
    id: int
    title: str


class RecommendationOut(Schema):
    movie: MovieOut
    predicted_rating: float | None = Field(
        description="The rating the model expects the member to give (1-5); with the "
        "popularity fallback, the movie's average rating."
    )
    score: float
    because: MovieRef | None = Field(description="The member's liked movie behind this one.")


class RecommendationList(Schema):
    user_id: int
    source: str = Field(description="'model', or 'popularity' while no model is trained")
    model_version: str | None
    based_on_ratings: int
    cached: bool
    items: list[RecommendationOut]


class ModelInfo(Schema):
    serving: bool
    version: str | None = None
    created_at: str | None = None
    trigger: str | None = None
    data: dict = {}
    metrics: dict = {}
    hyperparameters: dict = {}
    training_seconds: float | None = None
    fallback: str | None = Field(None, description="'popularity' while no model is serving")


@router.get(
    "/recommendations/{user_id}", response={200: RecommendationList, **AUTH_ERRORS}, auth=MEMBER
)
def recommendations(
    request,
    user_id: Id,
    n: int = Query(10, ge=1, le=100),
    exclude_rated: bool = True,
    genre: str | None = Query(None, max_length=40, description="a genre's slug, e.g. sci-fi"),
    decade: int | None = Query(None, description="a decade's first year, e.g. 1990"),
):
    """Top ``n`` movies for the member: from demographics alone until they rate, then
    from their ratings too, at once (no retraining). ``genre`` and ``decade``
    filter the whole scored catalogue, so a rare genre still fills the list."""
    user = visible_user(request, user_id)
    try:
        query = list_query(n=n, genre=genre, decade=decade, exclude_rated=exclude_rated)
        rendered = rendered_recommendations(
            user=user, query=query, render=lambda result: _recommendation_json(user.pk, result)
        )
    except RecommendationError as exc:
        raise ApiError.invalid(exc.field, exc.message, where="query") from None
    impression_record(
        user=user, surface=Surface.API, movie_ids=list(rendered.movie_ids), version=rendered.version
    )
    # Rendered (and checked against the schema) once per list, not per request.
    return HttpResponse(rendered.body, content_type="application/json; charset=utf-8")


def _recommendation_json(user_id: int, result: Recommendations) -> bytes:
    answer = {
        "user_id": user_id,
        "source": result.source,
        "model_version": result.model_version,
        "based_on_ratings": result.rating_count,
        "cached": result.cached,
        "items": [
            {
                "movie": movie_out(item.movie),
                "predicted_rating": item.predicted_rating,
                "score": item.score,
                "because": {"id": item.because.pk, "title": item.because.title}
                if item.because
                else None,
            }
            for item in result.items
        ],
    }
    return RecommendationList.model_validate(answer).model_dump_json().encode()


@router.post(
    "/recommendations/{user_id}/refresh", response={200: Message, **AUTH_ERRORS}, auth=MEMBER
)
def refresh(request, user_id: Id):
    """Drop the member's cached recommendations; the next request recomputes them."""
    recommendations_refresh(user=visible_user(request, user_id))
    return {"detail": "Recommendations will be recomputed on the next request."}


@router.get("/model/info", response={200: ModelInfo, **READ_ERRORS}, auth=None, tags=["system"])
def model_info(request):
    """The served version and its figures (as the model page shows them); its
    hyperparameters for staff and the metrics allow-list only."""
    served = served_model()
    if served is None:
        return {"serving": False, "fallback": "popularity"}
    meta = served.metadata
    return {
        "serving": True,
        "version": served.version,
        "created_at": meta.created_at.isoformat() if meta.created_at else None,
        "trigger": meta.trigger or None,
        "data": meta.data.as_json(),
        "metrics": meta.metrics,
        "hyperparameters": meta.hyperparameters if privileged(request) else {},
        "training_seconds": meta.training_seconds,
    }
