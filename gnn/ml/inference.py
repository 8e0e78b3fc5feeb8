"""Serving maths: cache movie states once, then embed users cheaply.

Pure torch. The web service (gnn.bridge.engine) and the evaluation of new users
(gnn.ml.protocols) both go through these functions, so what is measured is
exactly what is served.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gnn.ml.arrays import ServingArrays
from gnn.ml.network import (
    BASE_USER_SHRINK,
    N_RATINGS,
    Recommender,
    positions,
    typed_adjacency,
)


@dataclass(frozen=True)
class MovieCache:
    """What a request needs, from one full-graph forward pass (eval mode).
    Everything is in the graph's movie-node order."""

    m0: torch.Tensor  # movie layer-0 states   [M, d]
    m1: torch.Tensor  # movie layer-1 states   [M, d]
    m: torch.Tensor  # final movie embeddings [M, d]
    rate_q: torch.Tensor  # Q z_m, precomputed    [M, d]
    rank_bias: torch.Tensor  # [M]
    rate_bias: torch.Tensor  # [M]
    base_bias: torch.Tensor  # [M], the centred channel's baseline
    users: torch.Tensor  # final embeddings of the users in the graph [U, d]
    user_bias: torch.Tensor  # their rating biases [U]
    # What each movie sends a user through each rating type, per layer
    # [M, T, d]: with these, one user's embedding costs O(ratings x d).
    messages1: torch.Tensor
    messages2: torch.Tensor
    # The item-item channel: weights between the movie nodes it covers
    # [K, K] (None when the model has none), those nodes [K], and its weight
    # scale * n / (n + half).
    ease: torch.Tensor | None = None
    ease_nodes: torch.Tensor | None = None
    ease_scale: float = 0.0
    ease_half: float = 0.0
    # The demographic prior [groups, M] and its weight scale * half / (n + half).
    prior: torch.Tensor | None = None
    prior_scale: float = 0.0
    prior_half: float = 1.0


@torch.no_grad()
def build_cache(model: Recommender, user_x, movie_x, movie_rows, ui, mi, r) -> MovieCache:
    model.eval()
    out = model(user_x, movie_x, ui, mi, r, movie_rows)
    tables = out["tables"]
    return MovieCache(
        m0=out["m0"],
        m1=out["m1"],
        m=out["m"],
        rate_q=model.rate_q(out["m"]),
        rank_bias=tables.rank_bias,
        rate_bias=tables.rate_bias,
        base_bias=tables.base_bias,
        users=out["u"],
        user_bias=model.user_bias(ui, mi, r, user_x.size(0), tables.rate_bias),
        messages1=model.conv1_mu.source_messages(out["m0"]),
        messages2=model.conv2_mu.source_messages(out["m1"]),
        ease=tables.ease,
        ease_nodes=tables.ease_nodes,
        ease_scale=float(model.ease_scale),
        ease_half=float(model.ease_half),
        prior=tables.prior,
        prior_scale=float(model.prior_scale),
        prior_half=float(model.prior_half),
    )


def build_cache_from_graph(model: Recommender, graph) -> MovieCache:
    """build_cache over a HeteroData graph from gnn.ml.graph.build_graph."""
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


def serving_arrays(
    model: Recommender, cache: MovieCache, movie_ids: np.ndarray, age_mean: float
) -> ServingArrays:
    """What a web process serves from (gnn.ml.arrays), with these weights and
    these movie states; ``movie_ids`` names the cache's movie rows."""

    def array(tensor: torch.Tensor | None, empty_shape=(0, 0)) -> np.ndarray:
        if tensor is None or tensor.numel() == 0:
            return np.zeros(empty_shape, dtype=np.float32)
        return tensor.detach().to(torch.float32).contiguous().numpy().copy()

    cfg = model.cfg
    n_movies = cache.m.size(0)
    return ServingArrays(
        movie_ids=np.asarray(movie_ids, dtype=np.int64).copy(),
        messages1=array(cache.messages1),
        messages2=array(cache.messages2),
        movies=array(cache.m),
        rate_q=array(cache.rate_q),
        rank_bias=array(cache.rank_bias),
        rate_bias=array(cache.rate_bias),
        base_bias=array(cache.base_bias),
        ease=array(cache.ease if cache.ease_scale else None),
        ease_nodes=(
            cache.ease_nodes.numpy().astype(np.int64)
            if cache.ease_scale and cache.ease_nodes is not None
            else np.zeros(0, dtype=np.int64)
        ),
        prior=array(cache.prior if cache.prior_scale else None, (0, n_movies)),
        user_in1_w=array(model.user_in[0].weight),
        user_in1_b=array(model.user_in[0].bias),
        user_in2_w=array(model.user_in[2].weight),
        user_in2_b=array(model.user_in[2].bias),
        root1_w=array(model.conv1_mu.lin_root.weight),
        root1_b=array(model.conv1_mu.lin_root.bias),
        root2_w=array(model.conv2_mu.lin_root.weight),
        root2_b=array(model.conv2_mu.lin_root.bias),
        rate_p=array(model.rate_p.weight),
        mu=float(model.mu),
        ease_scale=float(cache.ease_scale),
        ease_half=float(cache.ease_half),
        prior_scale=float(cache.prior_scale),
        prior_half=float(cache.prior_half),
        norm_power=float(cfg.norm_power),
        resid_power=float(cfg.resid_power),
        bias_shrink=float(cfg.bias_shrink),
        centred=bool(cfg.centred),
        age_mean=float(age_mean),
    )


def serving_arrays_for(model: Recommender, preprocessor, dataset) -> ServingArrays:
    """The serving arrays of ``model`` over every rating of ``dataset``: one
    full-graph forward pass (what a training publishes and a refresh redoes)."""
    from gnn.ml.graph import build_graph

    cache = build_cache_from_graph(model, build_graph(dataset, preprocessor))
    return serving_arrays(model, cache, dataset.movies.ids, preprocessor.state["age_mean"])


@torch.no_grad()
def embed_users(model: Recommender, cache: MovieCache, user_x, ui, mi, r):
    """Embeddings and rating biases of a batch of users from their features and
    their ratings (edges: row in the batch, movie node, value), reading only
    cached movie states. Used by the evaluation of new users."""
    model.eval()
    cfg = model.cfg
    n_users = user_x.size(0)
    residual = model.edge_residuals(ui, mi, r, n_users, cache.base_bias)
    movie_to_user = typed_adjacency(
        mi, ui, r, cache.m0.size(0), n_users, cfg.norm_power, residual, cfg.resid_power
    )
    u0 = model.user_h0(user_x)
    u1 = torch.relu(model.conv1_mu(cache.m0, u0, movie_to_user))
    zu = model.conv2_mu(cache.m1, u1, movie_to_user)
    bu = model.user_bias(ui, mi, r, n_users, cache.rate_bias)
    return zu, bu


@torch.no_grad()
def embed_one_user(model: Recommender, cache: MovieCache, user_x, rows, values):
    """One user's embedding [1, d] and rating bias [1]: the per-request path.

    The same arithmetic as the full-graph pass (eval mode) for that user, read
    from the cached per-type movie messages instead of recomputed: a sum over
    the user's k ratings per layer, no sparse matrix, no pass over all movies.
    """
    model.eval()
    cfg = model.cfg
    k = len(rows)
    mean_weight = float(max(k, 1)) ** -cfg.norm_power
    types = values - 1
    weights = None
    if cfg.centred and k:
        residual = values.float() - model.mu - cache.base_bias[rows]
        residual = residual - residual.sum() / (k + BASE_USER_SHRINK)
        weights = residual * float(k) ** -cfg.resid_power

    def aggregate(messages):
        total = messages[rows, types].sum(0, keepdim=True) * mean_weight
        if weights is not None:
            total = total + (weights[:, None] * messages[rows, N_RATINGS]).sum(0, keepdim=True)
        return total

    u0 = model.user_h0(user_x)
    u1 = torch.relu(aggregate(cache.messages1) + model.conv1_mu.lin_root(u0))
    zu = aggregate(cache.messages2) + model.conv2_mu.lin_root(u1)
    residual = values.float() - model.mu - cache.rate_bias[rows]
    bu = residual.sum().reshape(1) / (k + cfg.bias_shrink)
    return zu, bu


def item_item_weight(scale: float, half: float, n: torch.Tensor) -> torch.Tensor:
    """The channel's weight for members with n ratings: scale * n / (n + half)."""
    n = n.float()
    return scale * n / (n + half).clamp(min=1e-9)


def item_item_inputs(ui, mi, r, n_users: int, n_movies: int) -> torch.Tensor:
    """The channel's input: each rating as value / 5 in a [users, movies] matrix."""
    X = torch.zeros(n_users, n_movies)
    X[ui, mi] = r.float() / 5.0
    return X


def covered_inputs(ui, mi, r, n_users: int, nodes: torch.Tensor, n_movies: int):
    """item_item_inputs over the channel's movies only [n_users, K]: a
    member's ratings of other movies carry no item-item weight."""
    columns = positions(nodes, n_movies)[mi]
    keep = columns >= 0
    return item_item_inputs(ui[keep], columns[keep], r[keep], n_users, len(nodes))


def spread(part: torch.Tensor, nodes: torch.Tensor, n_movies: int) -> torch.Tensor:
    """[n, K] scores of the channel's movies as [n, M] (zero elsewhere)."""
    if len(nodes) == n_movies:
        return part
    full = torch.zeros(part.size(0), n_movies, dtype=part.dtype)
    full[:, nodes] = part
    return full


@torch.no_grad()
def item_item_scores(cache: MovieCache, ui, mi, r, n_users: int):
    """The item-item channel of a batch of users from their edges (row in the
    batch, movie node, value) [n_users, M], or None when the model has none."""
    if cache.ease is None or cache.ease.numel() == 0 or cache.ease_scale == 0:
        return None
    n_movies = cache.m.size(0)
    X = covered_inputs(ui, mi, r, n_users, cache.ease_nodes, n_movies)
    n = torch.bincount(ui, minlength=n_users)
    weight = item_item_weight(cache.ease_scale, cache.ease_half, n)
    return weight[:, None] * spread(X @ cache.ease, cache.ease_nodes, n_movies)


@torch.no_grad()
def item_item_one(cache: MovieCache, rows, values):
    """One user's item-item channel [1, M]: their ratings' rows of the weights."""
    if cache.ease is None or cache.ease.numel() == 0 or cache.ease_scale == 0:
        return None
    weight = item_item_weight(cache.ease_scale, cache.ease_half, torch.tensor(len(rows)))
    n_movies = cache.m.size(0)
    covered = positions(cache.ease_nodes, n_movies)[rows]
    keep = covered >= 0
    part = (values[keep].float()[:, None] / 5.0 * cache.ease[covered[keep]]).sum(0, keepdim=True)
    return weight * spread(part, cache.ease_nodes, n_movies)


def prior_weight(scale: float, half: float, n: torch.Tensor) -> torch.Tensor:
    """The prior's weight for members with n ratings: scale * half / (n + half)."""
    return scale * half / (n.float() + half)


@torch.no_grad()
def prior_scores(cache: MovieCache, keys, counts):
    """The demographic prior of members with these prior ``keys``
    (gnn.ml.network.prior_keys) and ``counts`` ratings each [n, M], or None."""
    if cache.prior is None or cache.prior.numel() == 0 or cache.prior_scale == 0:
        return None
    weight = prior_weight(cache.prior_scale, cache.prior_half, torch.as_tensor(counts))
    return weight[:, None] * cache.prior[torch.as_tensor(keys, dtype=torch.long)]


def channels(*parts):
    """The sum of the channels that are present (None when none is)."""
    present = [p for p in parts if p is not None]
    return sum(present[1:], present[0]) if present else None


@torch.no_grad()
def batch_scores(cache: MovieCache, zu, ui, mi, r, keys) -> torch.Tensor:
    """The ranking scores of a batch of members [n, M] with every channel:
    their embeddings ``zu``, their ratings (row in the batch, movie node,
    value) and their demographic prior ``keys``."""
    n = zu.size(0)
    counts = torch.bincount(ui, minlength=n).numpy()
    channel = item_item_scores(cache, ui, mi, r, n)
    return rank_scores(cache, zu, channels(channel, prior_scores(cache, keys, counts)))


@torch.no_grad()
def rank_scores(cache: MovieCache, zu: torch.Tensor, item_item=None) -> torch.Tensor:
    """The ranking score of every movie: z_u . z_m + rank bias, plus the
    item-item channel of the user's liked movies when the model has one."""
    scores = zu @ cache.m.T + cache.rank_bias
    return scores if item_item is None else scores + item_item


@torch.no_grad()
def predicted_ratings(model: Recommender, cache: MovieCache, zu, bu, rows=None) -> torch.Tensor:
    """Predicted ratings, clipped to 1..5, for all movies or the given rows."""
    q = cache.rate_q if rows is None else cache.rate_q[rows]
    bias = cache.rate_bias if rows is None else cache.rate_bias[rows]
    raw = model.mu + bias[None] + bu[:, None] + model.rate_p(zu) @ q.T
    return raw.clamp(1.0, 5.0)
