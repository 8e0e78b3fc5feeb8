"""Serving maths: cache movie states once, then embed users cheaply.

Pure torch. The web service (gnn.engine) and the evaluation of new users
(gnn.protocols) both go through these functions, so what is measured is
exactly what is served.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gnn.model import Recommender, typed_adjacency


@dataclass(frozen=True)
class MovieCache:
    """What a request needs, from one full-graph forward pass (eval mode)."""

    m0: torch.Tensor  # movie layer-0 states   [M, d]
    m1: torch.Tensor  # movie layer-1 states   [M, d]
    m: torch.Tensor  # final movie embeddings [M, d]
    rate_q: torch.Tensor  # Q z_m, precomputed    [M, d]
    rank_bias: torch.Tensor  # [M]
    rate_bias: torch.Tensor  # [M]
    users: torch.Tensor  # final embeddings of the users in the graph [U, d]
    user_bias: torch.Tensor  # their rating biases [U]


@torch.no_grad()
def build_cache(
    model: Recommender,
    user_x: torch.Tensor,
    movie_x: torch.Tensor,
    movie_rows: torch.Tensor,
    ui: torch.Tensor,
    mi: torch.Tensor,
    r: torch.Tensor,
) -> MovieCache:
    model.eval()
    out = model(user_x, movie_x, movie_rows, ui, mi, r)
    rank_bias, rate_bias = model.movie_biases(movie_rows)
    return MovieCache(
        m0=out["m0"],
        m1=out["m1"],
        m=out["m"],
        rate_q=model.rate_q(out["m"]),
        rank_bias=rank_bias,
        rate_bias=rate_bias,
        users=out["u"],
        user_bias=model.user_bias(ui, mi, r, user_x.size(0), rate_bias),
    )


def build_cache_from_graph(model: Recommender, graph) -> MovieCache:
    """build_cache over a HeteroData graph from gnn.graph.build_graph."""
    ui, mi = graph["user", "rates", "movie"].edge_index
    return build_cache(
        model,
        graph["user"].x,
        graph["movie"].x,
        graph["movie"].rows,
        ui,
        mi,
        graph["user", "rates", "movie"].edge_attr,
    )


@torch.no_grad()
def embed_users(
    model: Recommender,
    cache: MovieCache,
    user_x: torch.Tensor,
    ui: torch.Tensor,
    mi: torch.Tensor,
    r: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings and rating biases of a batch of users, from their features
    and their ratings (edges: row in the batch, movie row, value), reading only
    cached movie states: O(ratings x d) per user, never the whole graph."""
    model.eval()
    movie_to_user = typed_adjacency(
        mi, ui, r, cache.m0.size(0), user_x.size(0), model.cfg.norm_power
    )
    zu = model.user_layers(user_x, cache.m0, cache.m1, movie_to_user)
    bu = model.user_bias(ui, mi, r, user_x.size(0), cache.rate_bias)
    return zu, bu


@torch.no_grad()
def rank_scores(cache: MovieCache, zu: torch.Tensor) -> torch.Tensor:
    return zu @ cache.m.T + cache.rank_bias


@torch.no_grad()
def predicted_ratings(
    model: Recommender, cache: MovieCache, zu: torch.Tensor, bu: torch.Tensor, rows=None
) -> torch.Tensor:
    """Predicted ratings, clipped to 1..5, for all movies or the given rows."""
    q = cache.rate_q if rows is None else cache.rate_q[rows]
    bias = cache.rate_bias if rows is None else cache.rate_bias[rows]
    raw = model.mu + bias[None] + bu[:, None] + model.rate_p(zu) @ q.T
    return raw.clamp(1.0, 5.0)
