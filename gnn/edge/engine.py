"""One served model version with everything a request needs, built once.

Built by gnn.selectors on first use and on a swap: load the version, build the
graph of the current database, run one full-graph forward pass and keep the
movie states (gnn.ml.inference.MovieCache). A request then embeds one user from
their features and rated movies and scores every visible movie.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from django.conf import settings
from django.db.models import Count, Max, Q

from catalog.models import Movie
from gnn.edge import registry
from gnn.edge.snapshot import load_snapshot, user_table
from gnn.ml.features import Preprocessor
from gnn.ml.graph import build_graph
from gnn.ml.inference import (
    MovieCache,
    build_cache_from_graph,
    channels,
    embed_one_user,
    item_item_one,
    predicted_ratings,
    prior_scores,
    rank_scores,
)
from gnn.ml.network import Recommender, prior_keys
from gnn.ml.training import load_model

log = logging.getLogger("gnn.inference")

LIKED = 4  # "because you rated X" only points at movies the member liked


@dataclass(frozen=True)
class Engine:
    version: str
    metadata: dict
    model: Recommender
    preprocessor: Preprocessor
    cache: MovieCache
    movie_ids: np.ndarray  # row -> Movie pk (visible movies when built)
    movie_row: dict[int, int]  # Movie pk -> row
    unit_embeddings: torch.Tensor  # final movie embeddings, L2-normalised
    catalogue_stamp: str  # see catalogue_stamp()
    built_seconds: float
    graph_user_ids: np.ndarray  # row -> User pk of the users in the graph
    # The visible catalogue when built (genres prefetched), so that a cached
    # list is served without touching the database. Read-only: every request
    # shares these objects.
    movies: dict[int, Movie]

    @property
    def cache_key(self) -> str:
        """Names what a cached list was computed from: the version and the
        catalogue it saw (identical in every process)."""
        return f"{self.version}@{self.catalogue_stamp}"

    # --- per request ---------------------------------------------------------

    def _rated_rows(self, rated: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(movie rows, values) of the member's ratings of movies the engine knows."""
        known = [(self.movie_row[m], v) for m, v in rated if m in self.movie_row]
        rows = torch.tensor([r for r, _ in known], dtype=torch.long)
        return rows, torch.tensor([v for _, v in known], dtype=torch.long)

    def embed(self, user, rated: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        rows, values = self._rated_rows(rated)
        return self._embed(user, rows, values)

    def _embed(self, user, rows, values):
        user_x = self.preprocessor.user_features(user_table([user]))
        return embed_one_user(self.model, self.cache, user_x, rows, values)

    @torch.no_grad()
    def recommend(self, *, user, rated, exclude, k: int) -> list[tuple]:
        """Top-k rows (movie pk, ranking score, predicted rating, because pk)."""
        rows, values = self._rated_rows(rated)
        zu, bu = self._embed(user, rows, values)
        channel = item_item_one(self.cache, rows, values)
        scores = rank_scores(self.cache, zu, channels(channel, self._prior(user, len(rows))))[0]
        blocked = [self.movie_row[m] for m in exclude if m in self.movie_row]
        if blocked:
            scores[torch.tensor(blocked)] = float("-inf")
        k = min(k, int(torch.isfinite(scores).sum()))
        if k <= 0:
            return []
        top = torch.topk(scores, k).indices
        predicted = predicted_ratings(self.model, self.cache, zu, bu, rows=top)[0]
        because = self._because(top, rated)
        return [
            (int(self.movie_ids[row]), float(scores[row]), round(float(p), 2), because[i])
            for i, (row, p) in enumerate(zip(top.tolist(), predicted.tolist(), strict=True))
        ]

    def _prior(self, user, n_ratings: int):
        """The demographic prior for the member's age and gender, weighted for
        their number of ratings."""
        age = np.nan if user.age is None else float(user.age)
        key = prior_keys([age], [user.gender or ""], self.preprocessor.state["age_mean"])
        return prior_scores(self.cache, key, np.array([n_ratings]))

    def _because(self, top: torch.Tensor, rated) -> list[int | None]:
        """For each recommended movie, the liked movie of the member's that is
        closest to it in the model's movie embeddings: the rating that pulls it
        up most. One small matrix product, cheap for every request."""
        liked = [self.movie_row[m] for m, v in rated if v >= LIKED and m in self.movie_row]
        if not liked:
            return [None] * len(top)
        similarity = self.unit_embeddings[top] @ self.unit_embeddings[torch.tensor(liked)].T
        best = similarity.argmax(dim=1).tolist()
        return [int(self.movie_ids[liked[b]]) for b in best]

    @torch.no_grad()
    def similar(self, movie_id: int, k: int) -> list[int]:
        row = self.movie_row.get(movie_id)
        if row is None:
            return []
        similarity = self.unit_embeddings @ self.unit_embeddings[row]
        similarity[row] = float("-inf")
        top = torch.topk(similarity, min(k, len(similarity) - 1)).indices
        return [int(self.movie_ids[r]) for r in top.tolist()]

    def full_graph_user_embedding(self, user_pk: int) -> torch.Tensor | None:
        """The user's embedding from the full-graph pass at build time."""
        positions = np.flatnonzero(self.graph_user_ids == user_pk)
        return self.cache.users[int(positions[0])] if len(positions) else None


def catalogue_stamp() -> str:
    """Changes whenever curators add, edit, hide or show a movie (one indexed
    aggregate; the count catches bulk updates that leave updated_at alone)."""
    found = Movie.objects.aggregate(
        changed=Max("updated_at"), visible=Count("pk", filter=Q(is_visible=True))
    )
    changed = found["changed"].isoformat() if found["changed"] else "never"
    return f"{changed}/{found['visible']}"


def build_engine(models_dir, version: str) -> Engine:
    """Load and verify ``version`` and cache the movie states; raises on failure."""
    started = time.perf_counter()
    torch.set_num_threads(settings.TORCH_THREADS_SERVING)
    loaded = registry.load_version(models_dir, version)
    try:
        preprocessor = Preprocessor(loaded.preprocessor)
        model = load_model(loaded.state_dict, preprocessor, loaded.metadata)
    except (KeyError, TypeError, ValueError) as exc:
        raise registry.ModelVersionError(f"version {version} is incompatible: {exc}") from None
    stamp = catalogue_stamp()
    dataset = load_snapshot()
    graph = build_graph(dataset, preprocessor)
    cache = build_cache_from_graph(model, graph)
    ids = dataset.movies.ids
    catalogue = {m.pk: m for m in Movie.objects.visible().prefetch_related("genres")}
    engine = Engine(
        version=version,
        metadata=loaded.metadata,
        model=model,
        preprocessor=preprocessor,
        cache=cache,
        movie_ids=ids,
        movie_row={int(m): i for i, m in enumerate(ids.tolist())},
        unit_embeddings=torch.nn.functional.normalize(cache.m, dim=1),
        catalogue_stamp=stamp,
        built_seconds=time.perf_counter() - started,
        graph_user_ids=dataset.users.ids,
        movies=catalogue,
    )
    log.info(
        "model version %s ready: %d movies, %d ratings in the graph, built in %.2f s",
        version,
        len(ids),
        len(dataset.ratings),
        engine.built_seconds,
    )
    return engine
