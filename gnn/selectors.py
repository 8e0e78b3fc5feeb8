"""Recommendations: what views, the API and tasks read.

The process's engine (gnn.bridge.serving) holds the served model version with
every movie's cached state from one full-graph forward pass, so a request
costs one user's embedding and one score per movie. With no version at all,
recommendations fall back to popularity, labelled so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from django.core.cache import cache

from catalog.models import Genre, Movie
from catalog.selectors import popular_movies
from core import metrics
from core.errors import FieldError
from gnn.bridge.metadata import RefreshInfo, VersionMetadata
from gnn.bridge.serving import get_service
from gnn.bridge.state import process_state
from ratings.selectors import (
    dismissed_movie_ids,
    not_seen_movie_ids,
    ratings_of_user,
    watchlist_movie_ids,
)

if TYPE_CHECKING:
    from gnn.bridge.engine import Engine

log = logging.getLogger("gnn.inference")

MAX_N = 100
# Cached lists are longer than any page asks for, so that movies hidden since
# can be dropped at read time without recomputing.
_CACHED_LENGTH = MAX_N + 20
_CACHE_SECONDS = 60 * 60


class RecommendationError(FieldError):
    """Bad arguments for recommendations."""


@dataclass(frozen=True)
class Recommendation:
    movie: Movie
    score: float
    predicted_rating: float | None
    because: Movie | None
    # The share of the catalogue (0-100) it ranks above for this member: it
    # follows the list's order, where a predicted rating need not.
    match: int | None = None
    # With no strong "because": members of the member's gender and age like
    # it clearly more than everyone (Recommendations.group names them).
    group_liked: bool = False


@dataclass(frozen=True)
class Recommendations:
    items: list[Recommendation]
    source: str  # "model" or "popularity"
    model_version: str | None
    rating_count: int  # how many of the member's ratings informed the list
    cached: bool
    group: str = ""  # the member's prior group in words: "women in their 30s"

    @property
    def from_demographics_only(self) -> bool:
        return self.source == "model" and self.rating_count == 0


# --- The public API -------------------------------------------------------


@dataclass(frozen=True)
class Shelf:
    """What a list is filtered to: a genre (its slug) and a decade (its first
    year), each optional. Build it from a request with ``list_query``, which
    checks both."""

    genre: str | None = None
    decade: int | None = None

    @property
    def key(self) -> str:
        return f"{self.genre or ''}~{self.decade or ''}" if self.genre or self.decade else ""


ANY = Shelf()
DECADES = range(1900, 2100, 10)


@dataclass(frozen=True)
class ListQuery:
    """Which list is asked for: its length, its shelf, and whether the
    member's rated movies are left out. Its length is checked here, once;
    selectors trust it."""

    n: int = 10
    on: Shelf = ANY
    exclude_rated: bool = True

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, int) or not 1 <= self.n <= MAX_N:
            raise RecommendationError("n", f"n must be a whole number from 1 to {MAX_N}.")

    @property
    def key(self) -> str:
        """Names the list (not its length): lists of any length share it."""
        key = str(int(self.exclude_rated))
        return f"{key}:{self.on.key}" if self.on.key else key


def list_query(*, n=10, genre=None, decade=None, exclude_rated: bool = True) -> ListQuery:
    """A request's list parameters, checked; RecommendationError names what is wrong."""
    if genre in (None, ""):
        genre = None
    elif not isinstance(genre, str) or genre not in _genre_names(_engine()):
        raise RecommendationError("genre", "There is no such genre.")
    if decade in (None, ""):
        decade = None
    else:
        try:
            decade = int(decade) if not isinstance(decade, bool) else None
        except (TypeError, ValueError):
            decade = None
        if decade not in DECADES:
            raise RecommendationError("decade", "A decade is its first year: 1900, 1910, ... 2090.")
    return ListQuery(n=n, on=Shelf(genre, decade), exclude_rated=exclude_rated)


@dataclass(frozen=True)
class CatalogueFilters:
    genres: dict[str, str]  # every genre's slug and name, in catalogue order
    decades: list[int]  # the decades the catalogue has movies of


def catalogue_filters() -> CatalogueFilters:
    """What a list can be filtered by; no query while a model serves."""
    return _catalogue_filters(_engine())


def _catalogue_filters(engine: Engine | None) -> CatalogueFilters:
    if engine is not None:
        return CatalogueFilters(engine.shelves.genre_names, engine.shelves.decade_list())
    years = Movie.objects.visible().exclude(year=None).values_list("year", flat=True).distinct()
    return CatalogueFilters(_genre_names(None), sorted({year // 10 * 10 for year in years}))


def _genre_names(engine: Engine | None) -> dict[str, str]:
    if engine is not None:
        return engine.shelves.genre_names
    return dict(Genre.objects.order_by("position").values_list("slug", "name"))


def _engine() -> Engine | None:
    return get_service().engine()


POPULARITY = "popularity"  # a ranker that is no model: the most liked movies


def _engine_for(version: str | None) -> Engine | None:
    """The engine that ranks for ``version`` (an experiment's arm): None for
    the popularity list; the current one when ``version`` is None or is not
    held (yet) by this process. The list says which version ranked it."""
    if version == POPULARITY:
        return None
    service = get_service()
    return (service.engine(version) if version else None) or service.engine()


TOP_10 = ListQuery()


def recommendations_for(
    *, user, query: ListQuery = TOP_10, version: str | None = None
) -> Recommendations:
    """Top ``query.n`` movies for a member (cold or warm: the same path), of
    the query's shelf only when it names a genre or decade; ranked by
    ``version`` (an experiment's arm, or POPULARITY) when given."""
    started = time.perf_counter()
    result = _recommendations(user, _engine_for(version), query)
    metrics.observe_recommendation(result.cached, time.perf_counter() - started)
    return result


def _recommendations(user, engine: Engine | None, query: ListQuery) -> Recommendations:
    key = _cache_key(user, engine, query)
    entry = cache.get(key)
    cached = entry is not None
    if entry is None:
        entry = _compute(user, engine, query)
        cache.set(key, entry, _CACHE_SECONDS)
    rows, rating_count = entry["rows"], entry["rating_count"]
    if engine is not None:
        # The engine's catalogue is refreshed within a second of a curator's
        # change (see RecommendationService), so no query is needed here.
        movies = engine.movies
    else:
        movies = _movies_by_id({row[0] for row in rows} | {row[3] for row in rows if row[3]})
    items = []
    for movie_id, score, predicted, because_id, *more in rows:  # older cached rows are shorter
        movie = movies.get(movie_id)
        if movie is None:  # hidden since the list was computed
            continue
        because = movies.get(because_id) if because_id else None
        # The engine's Movie objects are shared by every request: read-only.
        items.append(Recommendation(movie, score, predicted, because, *more[:2]))
        if len(items) == query.n:
            break
    return Recommendations(
        items=items,
        source="model" if engine else "popularity",
        model_version=engine.version if engine else None,
        rating_count=rating_count,
        cached=cached,
        group=group_label(user),
    )


def group_label(user) -> str:
    """The member's demographic group as a reason names it: gender (none
    when not said) and a decade of age, as the prior's age kernel is about
    that wide."""
    who = {"M": "men", "F": "women"}.get(getattr(user, "gender", ""), "people")
    age = getattr(user, "age", None)
    if age is None:
        return ""  # no age, no group worth naming
    if age < 20:
        return f"{who} in their teens" if age >= 13 else f"{who} under 13"
    if age >= 60:
        return f"{who} over 60"
    return f"{who} in their {age // 10 * 10}s"


@dataclass(frozen=True)
class Rendered:
    """A rendered list and what it shows (for the impression it makes)."""

    body: bytes
    movie_ids: tuple[int, ...]
    version: str  # "" for the popularity list


def _shown(result: Recommendations) -> tuple[tuple[int, ...], str]:
    return tuple(item.movie.pk for item in result.items), result.model_version or ""


def rendered_recommendations(
    *,
    user,
    query: ListQuery = TOP_10,
    render: Callable[[Recommendations], bytes],
    kind: str = "json",
    shows_cached: bool = True,
    version: str | None = None,
) -> Rendered:
    """``render(recommendations_for(...))``, kept under the list's own cache key
    and ``kind`` (what the rendering is: the API's JSON, the panel's HTML), so
    it goes when the list would: a repeated request costs one cache read
    instead of rebuilding and rendering the answer. A rendering that
    ``shows_cached`` (the API's ``cached`` field) is kept as a cache hit
    reports itself, so a computed list is rendered twice; one that does not
    (the panel) is rendered once."""
    started = time.perf_counter()
    engine = _engine_for(version)
    if engine is None:
        # Popularity lists drop hidden movies at read time, by a query; their
        # key does not name the catalogue, so their answers are not kept.
        result = _recommendations(user, engine, query)
        metrics.observe_recommendation(result.cached, time.perf_counter() - started)
        return Rendered(render(result), *_shown(result))
    key = f"{_cache_key(user, engine, query)}:{kind}:{query.n}:r2"  # r2: kept as Rendered
    kept = process_state.recent_answers.get(key)
    if kept is None:
        kept = cache.get(key)
        if kept is not None:
            process_state.recent_answers.put(key, kept)
    if kept is not None:
        metrics.observe_recommendation(True, time.perf_counter() - started)
        return kept
    result = _recommendations(user, engine, query)
    metrics.observe_recommendation(result.cached, time.perf_counter() - started)
    kept = Rendered(render(replace(result, cached=True)), *_shown(result))
    cache.set(key, kept, _CACHE_SECONDS)
    process_state.recent_answers.put(key, kept)
    if shows_cached and not result.cached:
        return Rendered(render(result), kept.movie_ids, kept.version)
    return kept


SIMILAR = 6


def movies_similar_to(*, movie: Movie) -> list[Movie]:
    """The SIMILAR movies closest to this one in the model's movie embeddings.

    Without a model: visible movies sharing the most genres, popular first.
    """
    engine = _engine()
    if engine is not None:
        ids = engine.similar(movie.pk, SIMILAR + 10)
        movies = _movies_by_id(ids)
        return [movies[i] for i in ids if i in movies and i != movie.pk][:SIMILAR]
    genre_ids = list(movie.genres.values_list("pk", flat=True))
    return list(
        Movie.objects.visible()
        .filter(genres__in=genre_ids)
        .exclude(pk=movie.pk)
        .distinct()
        .order_by("-liked_count", "title")
        .prefetch_related("genres")[:SIMILAR]
    )


@dataclass(frozen=True)
class ServedModel:
    version: str
    metadata: VersionMetadata
    refresh: RefreshInfo  # the serving arrays' latest refresh (serving.json)


def served_model() -> ServedModel | None:
    engine = _engine()
    return ServedModel(engine.version, engine.metadata, engine.refresh_info) if engine else None


# --- Internals ------------------------------------------------------------


def _cache_key(user, engine: Engine | None, query: ListQuery) -> str:
    """Names everything a list is computed from: the served version, its
    refresh and catalogue (or popularity), the member's taste version, the
    query. A rating moves the taste version, so the key never needs deleting."""
    served = engine.cache_key if engine else "popularity"
    return f"recs:{served}:{user.pk}:{user.taste_version}:{query.key}"


def _movies_by_id(ids) -> dict[int, Movie]:
    return {
        movie.pk: movie
        for movie in Movie.objects.visible().filter(pk__in=list(ids)).prefetch_related("genres")
    }


def _compute(user, engine: Engine | None, query: ListQuery) -> dict:
    rated = ratings_of_user(user=user)
    # Dismissed, and already chosen (on the watchlist): never recommended.
    excluded = dismissed_movie_ids(user=user) | watchlist_movie_ids(user=user)
    if query.exclude_rated:
        excluded.update(movie_id for movie_id, _ in rated)
    on = query.on
    if engine is None:
        return {"rows": _popular_rows(excluded, on), "rating_count": len(rated)}
    rows = engine.recommend(
        user=user, rated=rated, exclude=excluded, k=_CACHED_LENGTH, genre=on.genre, decade=on.decade
    )
    return {"rows": rows, "rating_count": len(rated)}


def _popular_rows(excluded: set[int], on: Shelf = ANY) -> list[tuple]:
    movies = Movie.objects.visible()
    if on.genre:
        movies = movies.filter(genres__slug=on.genre)
    if on.decade:
        movies = movies.filter(year__gte=on.decade, year__lt=on.decade + 10)
    popular = (
        movies.exclude(pk__in=excluded)
        .order_by("-liked_count", "-rating_count", "title")
        .values_list("pk", "liked_count", "rating_sum", "rating_count")[:_CACHED_LENGTH]
    )
    return [
        (pk, float(liked), (total / count) if count else None, None)
        for pk, liked, total, count in popular
    ]


@dataclass(frozen=True)
class MovieFit:
    """How a movie suits a member, for its page: the card's figures and reason."""

    predicted_rating: float
    match: int
    because: Movie | None
    group: str  # "women in their 30s" when they clearly like it; else ""


def movie_fit(*, user, movie: Movie) -> MovieFit | None:
    """None without a model, for a visitor, or for a movie the member rated
    (their own rating says more)."""
    engine = _engine()
    if engine is None or not user.is_authenticated:
        return None
    rated = ratings_of_user(user=user)
    if any(movie_id == movie.pk for movie_id, _ in rated):
        return None
    found = engine.explain(user=user, rated=rated, movie_id=movie.pk)
    if found is None:
        return None
    predicted, match, because_id, group = found
    return MovieFit(
        predicted_rating=predicted,
        match=match,
        because=engine.movies.get(because_id) if because_id else None,
        group=group_label(user) if group else "",
    )


ONBOARDING_PAGE = 10


def movies_to_ask(*, user, keep=(), n: int = ONBOARDING_PAGE) -> list[Movie]:
    """Movies to ask the member to rate next (the onboarding page): those of
    ``keep`` still unanswered, in order (the ones on the screen stay put),
    then the chooser's picks (gnn.ml.onboarding) up to ``n``. Never a movie
    the member rated, dismissed or said they haven't seen, nor a hidden one.
    Without a model: the most liked movies."""
    rated = ratings_of_user(user=user)
    blocked = {m for m, _ in rated} | dismissed_movie_ids(user=user) | not_seen_movie_ids(user=user)
    engine = _engine()
    kept_ids = list(dict.fromkeys(m for m in keep if m not in blocked))[:n]
    known = engine.movies if engine else _movies_by_id(kept_ids)
    kept = [known[m] for m in kept_ids if m in known]
    wanted = n - len(kept)
    if wanted <= 0:
        return kept
    taken = blocked | {m.pk for m in kept}
    if engine is None:
        return kept + popular_movies(exclude_ids=taken, limit=wanted)
    ids = engine.to_ask(
        user=user, rated=rated, blocked=taken, n=wanted, on_screen=[m.pk for m in kept]
    )
    return kept + [engine.movies[m] for m in ids if m in engine.movies]
