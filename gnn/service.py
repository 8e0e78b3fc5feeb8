"""The recommendation service: what views, the API and tasks call.

One engine per process, loaded on first use (so after a fork, never at
import or in AppConfig.ready; gunicorn's post_worker_init makes that first
use happen before the worker takes a request) and never per request. The engine holds the
served model version with every movie's cached state from one full-graph
forward pass, so a request costs one user's embedding and one score per movie.

A cheap check, at most every ``MODEL_CHECK_INTERVAL`` seconds, notices when
`models/current` points at another version, or when curators changed the
catalogue; a background thread then builds the new engine completely and
swaps the reference under a lock. Requests in flight keep the engine they
started with; a version that fails to load is logged and the old engine stays.
With no version at all, recommendations fall back to popularity, labelled so.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache

from catalog.models import Movie
from gnn import registry
from ratings.models import Dismissal, Rating
from recommender import metrics
from recommender.errors import FieldError

if TYPE_CHECKING:
    from gnn.engine import Engine

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


@dataclass(frozen=True)
class Recommendations:
    items: list[Recommendation]
    source: str  # "model" or "popularity"
    model_version: str | None
    rating_count: int  # how many of the member's ratings informed the list
    cached: bool

    @property
    def from_demographics_only(self) -> bool:
        return self.source == "model" and self.rating_count == 0


# --- The public API -------------------------------------------------------


def recommendations_for(*, user, n: int = 10, exclude_rated: bool = True) -> Recommendations:
    """Top ``n`` movies for a member (cold or warm: the same path)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise RecommendationError("n", f"n must be a whole number from 1 to {MAX_N}.")
    started = time.perf_counter()
    result = _recommendations(user, n, exclude_rated)
    metrics.observe_recommendation(result.cached, time.perf_counter() - started)
    return result


def _recommendations(user, n: int, exclude_rated: bool) -> Recommendations:
    engine = get_service().engine()
    version = engine.version if engine else None
    key = _cache_key(user, engine, exclude_rated)
    entry = cache.get(key)
    cached = entry is not None
    if entry is None:
        entry = _compute(user, engine, exclude_rated)
        cache.set(key, entry, _CACHE_SECONDS)
    rows, rating_count = entry["rows"], entry["rating_count"]
    if engine is not None:
        # The engine's catalogue is refreshed within a second of a curator's
        # change (see RecommendationService), so no query is needed here.
        movies = engine.movies
    else:
        movies = _movies_by_id({row[0] for row in rows} | {row[3] for row in rows if row[3]})
    items = []
    for movie_id, score, predicted, because_id in rows:
        movie = movies.get(movie_id)
        if movie is None:  # hidden since the list was computed
            continue
        because = movies.get(because_id) if because_id else None
        # Copies: callers may annotate them (my_rating); the engine's are shared.
        items.append(
            Recommendation(copy.copy(movie), score, predicted, because and copy.copy(because))
        )
        if len(items) == n:
            break
    return Recommendations(
        items=items,
        source="model" if engine else "popularity",
        model_version=version,
        rating_count=rating_count,
        cached=cached,
    )


def served_key() -> str:
    """Names what recommendations are computed from right now (the version and
    catalogue it saw, or popularity): part of any cache key built on them."""
    engine = get_service().engine()
    return engine.cache_key if engine else "popularity"


def refresh_recommendations(*, user) -> None:
    """Drop the member's cached lists so the next call recomputes them."""
    engine = get_service().engine()
    cache.delete_many([_cache_key(user, engine, flag) for flag in (True, False)])


def movies_similar_to(*, movie: Movie, n: int = 6) -> list[Movie]:
    """Movies close to this one in the model's movie embeddings.

    Without a model: visible movies sharing the most genres, popular first.
    """
    if not 1 <= n <= MAX_N:
        raise RecommendationError("n", f"n must be a whole number from 1 to {MAX_N}.")
    engine = get_service().engine()
    if engine is not None:
        ids = engine.similar(movie.pk, n + 10)
        movies = _movies_by_id(ids)
        return [movies[i] for i in ids if i in movies and i != movie.pk][:n]
    genre_ids = list(movie.genres.values_list("pk", flat=True))
    return list(
        Movie.objects.visible()
        .filter(genres__in=genre_ids)
        .exclude(pk=movie.pk)
        .distinct()
        .order_by("-liked_count", "title")
        .prefetch_related("genres")[:n]
    )


@dataclass(frozen=True)
class ServedModel:
    version: str
    metadata: dict


def served_model() -> ServedModel | None:
    engine = get_service().engine()
    return ServedModel(engine.version, engine.metadata) if engine else None


# --- Internals ------------------------------------------------------------


def _cache_key(user, engine: Engine | None, exclude_rated: bool) -> str:
    served = engine.cache_key if engine else "popularity"
    return f"recs:{served}:{user.pk}:{user.taste_version}:{int(exclude_rated)}"


def _movies_by_id(ids) -> dict[int, Movie]:
    return {
        movie.pk: movie
        for movie in Movie.objects.visible().filter(pk__in=list(ids)).prefetch_related("genres")
    }


def _compute(user, engine: Engine | None, exclude_rated: bool) -> dict:
    rated = list(Rating.objects.filter(user=user).values_list("movie_id", "value"))
    excluded = set(Dismissal.objects.filter(user=user).values_list("movie_id", flat=True))
    if exclude_rated:
        excluded.update(movie_id for movie_id, _ in rated)
    if engine is None:
        return {"rows": _popular_rows(excluded), "rating_count": len(rated)}
    rows = engine.recommend(user=user, rated=rated, exclude=excluded, k=_CACHED_LENGTH)
    return {"rows": rows, "rating_count": len(rated)}


def _popular_rows(excluded: set[int]) -> list[tuple]:
    popular = (
        Movie.objects.visible()
        .exclude(pk__in=excluded)
        .order_by("-liked_count", "-rating_count", "title")
        .values_list("pk", "liked_count", "rating_sum", "rating_count")[:_CACHED_LENGTH]
    )
    return [
        (pk, float(liked), (total / count) if count else None, None)
        for pk, liked, total, count in popular
    ]


class RecommendationService:
    """Holds the engine of one process and swaps it when the model changes."""

    # A version that failed to load is tried again after this long (the
    # failure may have been the database, not the files).
    RETRY_FAILED_SECONDS = 60.0

    def __init__(self, models_dir, check_interval: float):
        self.models_dir = models_dir
        self.check_interval = check_interval
        self._engine: Engine | None = None
        self._loaded = False
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._loader: threading.Thread | None = None
        self._failed: tuple[str, float] | None = None

    def engine(self) -> Engine | None:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    # First use in this process: load synchronously, once.
                    version = registry.current_version(self.models_dir)
                    self._engine = self._build(version) if version else None
                    self._loaded = True
                    self._next_check = time.monotonic() + self.check_interval
        elif time.monotonic() >= self._next_check:
            self._maybe_reload()
        return self._engine

    def _maybe_reload(self) -> None:
        with self._lock:
            busy = self._loader is not None and self._loader.is_alive()
            if busy or time.monotonic() < self._next_check:
                return
            self._next_check = time.monotonic() + self.check_interval
        wanted = registry.current_version(self.models_dir)
        engine = self._engine
        if wanted is None:
            return  # `current` removed by hand: keep serving what we have
        if engine is not None and wanted == engine.version:
            from gnn.engine import catalogue_stamp

            if catalogue_stamp() == engine.catalogue_stamp:
                return
            log.info("catalogue changed; rebuilding the movie states of %s", wanted)
        elif (
            self._failed
            and self._failed[0] == wanted
            and time.monotonic() < self._failed[1] + self.RETRY_FAILED_SECONDS
        ):
            return
        with self._lock:
            if self._loader is not None and self._loader.is_alive():
                return
            self._loader = threading.Thread(
                target=self._reload, args=(wanted,), name="gnn-model-loader", daemon=True
            )
            self._loader.start()

    def _reload(self, version: str) -> None:
        from django.db import connection

        try:
            engine = self._build(version)
        finally:
            connection.close()  # the loader thread's own connection
        if engine is not None:
            with self._lock:
                self._engine = engine  # requests in flight keep the old one
            log.info("now serving model version %s", version)

    def _build(self, version: str) -> Engine | None:
        from gnn.engine import build_engine  # torch is imported on first use only

        try:
            engine = build_engine(self.models_dir, version)
        except Exception:
            self._failed = (version, time.monotonic())
            log.exception("model version %s failed to load; keeping the one in service", version)
            return None
        self._failed = None
        return engine

    def wait_for_reload(self, timeout: float = 60.0) -> None:
        """Block until a reload in progress has finished (tests, commands)."""
        loader = self._loader
        if loader is not None:
            loader.join(timeout)


_service: RecommendationService | None = None
_service_lock = threading.Lock()


def get_service() -> RecommendationService:
    global _service
    if _service is None:
        with _service_lock:
            if _service is None:
                _service = RecommendationService(settings.MODELS_DIR, settings.MODEL_CHECK_INTERVAL)
    return _service


def reset_service() -> None:
    """Forget this process's engine (tests; settings changes)."""
    global _service
    with _service_lock:
        _service = None
