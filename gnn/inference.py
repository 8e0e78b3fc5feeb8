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
    # What each movie sends a user through each rating value, per layer
    # [M, 5, d]: with these, a user's embedding costs O(ratings x d).
    messages1: torch.Tensor
    messages2: torch.Tensor


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
        messages1=model.conv1_mu.source_messages(out["m0"]),
        messages2=model.conv2_mu.source_messages(out["m1"]),
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
def embed_one_user(
    model: Recommender,
    cache: MovieCache,
    user_x: torch.Tensor,
    rows: torch.Tensor,
    values: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One user's embedding [1, d] and rating bias [1]: the per-request path.

    The same arithmetic as the full-graph pass (eval mode) for that user, read
    from the cached per-rating movie messages instead of recomputed: a sum over
    the user's k ratings per layer, no sparse matrix, no pass over all movies.
    """
    model.eval()
    types = values - 1
    weight = float(max(len(rows), 1)) ** -model.cfg.norm_power
    u0 = model.user_h0(user_x)
    aggregated1 = cache.messages1[rows, types].sum(0, keepdim=True) * weight
    u1 = torch.relu(aggregated1 + model.conv1_mu.lin_root(u0))
    aggregated2 = cache.messages2[rows, types].sum(0, keepdim=True) * weight
    zu = aggregated2 + model.conv2_mu.lin_root(u1)
    residual = values.float() - model.mu - cache.rate_bias[rows]
    bu = residual.sum().reshape(1) / (len(rows) + model.cfg.bias_shrink)
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
