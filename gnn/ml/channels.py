"""The two closed-form channels beside the message passing, fitted after it:
the item-item channel (EASE) and the demographic prior. No Django here.

Each is chosen on the validation share (the training share as the graph;
each validation member's training ratings excluded, their validation ratings
ranked):

- the prior's smoothing and weight, with each member represented by their
  profile alone;
- λ and the channel's weight, with each member represented by all their
  training ratings;
- how fast each fades with the number of ratings, by the sum of NDCG@10 of
  all their ratings and of 5 of them (their 5 earliest, and 5 random ones:
  both kinds of new member).

The weights kept are fitted on every rating.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools

import numpy as np
import torch

from gnn.ml import evaluation
from gnn.ml.data import Ratings, earliest, random_k, remap_users, sample_rows
from gnn.ml.features import mean_age
from gnn.ml.inference import (
    build_cache,
    covered_inputs,
    embed_users,
    item_item_weight,
    prior_weight,
    rank_scores,
    spread,
)
from gnn.ml.network import (
    MAX_AGE,
    N_GENDER_GROUPS,
    N_PRIOR_KEYS,
    UNKNOWN_GENDER_CODE,
    ease_weights,
    positions,
    prior_keys,
)


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's malloc_trim).

    A training step's many mid-sized tensors leave the heap fragmented, and
    glibc keeps those pages: without this the process's peak memory is the
    message passing's leftovers plus whatever comes next."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def sample_members(validation: Ratings, limit: int, seed: int) -> np.ndarray:
    """The validation members (sorted), or a fixed seeded sample of ``limit``
    of them."""
    return sample_rows(np.unique(validation.user), limit, seed + 4242)


def demographic_prior(
    keys, ratings: Ratings, n_movies: int, bandwidth: float, other_genders: float,
    smoothing: float,
) -> torch.Tensor:  # fmt: skip
    """log of the share of likes per movie among members like each prior key
    (gnn.ml.network.prior_keys): a Gaussian kernel over age in years, other
    genders weighted ``other_genders``, smoothed toward the overall share
    (``smoothing`` x the catalogue size imaginary likes)."""
    liked = ratings.value >= evaluation.RELEVANT_FROM
    counts = np.zeros((N_PRIOR_KEYS, n_movies))
    np.add.at(counts, (keys[ratings.user[liked]], ratings.movie[liked]), 1.0)
    counts = counts.reshape(N_GENDER_GROUPS, MAX_AGE + 1, n_movies)
    years = np.arange(MAX_AGE + 1, dtype=np.float64)
    kernel = np.exp(-((years[:, None] - years[None, :]) ** 2) / (2 * bandwidth**2))
    near = np.einsum("ab,gbm->gam", kernel, counts)
    mixed = (1 - other_genders) * near + other_genders * near.sum(0, keepdims=True)
    mixed[UNKNOWN_GENDER_CODE] = near.sum(0)  # gender unknown: everyone of that age
    overall = counts.sum((0, 1)) + 1.0
    overall /= overall.sum()
    share = (mixed + smoothing * n_movies * overall) / (
        mixed.sum(-1, keepdims=True) + smoothing * n_movies
    )
    return torch.as_tensor(np.log(share).reshape(N_PRIOR_KEYS, n_movies), dtype=torch.float32)


def _t(array) -> torch.Tensor:
    return torch.as_tensor(array)


class _Validation:
    """The validation members, each represented four ways (profile alone, all
    their training ratings, their 5 earliest, 5 random), and NDCG@10 of
    scores over them."""

    def __init__(self, model, user_x, movie_x, train_part: Ratings, validation, members):
        n_users = user_x.size(0)
        self.n_users, self.members, self.rows = n_users, members, _t(members)
        cache = build_cache(
            model, user_x, movie_x, None, _t(train_part.user), _t(train_part.movie),
            _t(train_part.value),
        )  # fmt: skip
        seen = evaluation.items_by_user(train_part.user, train_part.movie, n_users)
        relevant = evaluation.relevant_items(
            validation.user, validation.movie, validation.value, n_users
        )
        self.exclude = [seen[u] for u in members]
        self.relevant = [relevant[u] for u in members]

        def scores(given: Ratings) -> np.ndarray:
            given = remap_users(given, members, n_users)
            zu, _ = embed_users(
                model, cache, user_x[self.rows], _t(given.user), _t(given.movie),
                _t(given.value),
            )  # fmt: skip
            return rank_scores(cache, zu).numpy()

        empty = train_part.take(np.zeros(len(train_part), dtype=bool))
        mine = train_part.take(np.isin(train_part.user, members))
        self.views = {"profile": (scores(empty), empty)}
        self.views["all"] = (rank_scores(cache, cache.users[self.rows]).numpy(), mine)
        for name, reveal in (("earliest", earliest), ("random", random_k)):
            given, _ = reveal(mine, 5)
            self.views[name] = (scores(given), given)
        self.counts = {
            name: torch.bincount(_t(given.user), minlength=n_users)[self.rows]
            for name, (_, given) in self.views.items()
        }

    def ndcg(self, scores: np.ndarray) -> float:
        ranked = evaluation.top_k(scores, self.exclude)
        return evaluation.ranking_metrics(ranked, self.relevant).ndcg


def _choose_prior(check: _Validation, keys, train_part, n_movies, cfg, chosen):
    """The prior's settings and scale; its scores for the members, or None."""
    base = check.views["profile"][0]
    best = (check.ndcg(base), None, 0.0)
    tables = {}
    member_keys = _t(keys[check.members])
    for setting in itertools.product(
        cfg.prior_bandwidths, cfg.prior_other_genders, cfg.prior_smoothings
    ):
        tables[setting] = demographic_prior(keys, train_part, n_movies, *setting)
        part = tables[setting][member_keys].numpy()
        for scale in cfg.prior_scales:
            if scale and (score := check.ndcg(base + scale * part)) > best[0] + 1e-9:
                best = (score, setting, scale)
    if best[1] is None:
        return None
    bandwidth, other_genders, smoothing = best[1]
    chosen.update(
        prior_bandwidth=bandwidth, prior_other_genders=other_genders,
        prior_smoothing=smoothing, prior_scale=best[2],
    )  # fmt: skip
    return tables[best[1]][member_keys].numpy()


def most_rated(ratings: Ratings, n_movies: int, limit: int) -> torch.Tensor:
    """The ``limit`` most-rated movie nodes (all when fewer), in node order."""
    if n_movies <= limit:
        return torch.arange(n_movies)
    counts = torch.bincount(_t(ratings.movie), minlength=n_movies)
    top = torch.argsort(counts, descending=True, stable=True)[:limit]
    return torch.sort(top).values


def item_item_gram(
    ratings: Ratings, n_users: int, nodes, n_movies: int, block: int = 2048
) -> torch.Tensor:
    """XᵀX of the channel's inputs over the covered movies (float64 [K, K]),
    by blocks of members, each block's sparse Xᵀ times its dense X: never a
    dense [members x movies] matrix, and the work grows with the ratings
    times the movies covered (a dense product would multiply the members by
    the movies squared; a sparse one would expand every member's ratings
    squared)."""
    columns = positions(nodes, n_movies)[_t(ratings.movie)]
    keep = columns >= 0
    users, columns = _t(ratings.user)[keep], columns[keep]
    values = _t(ratings.value)[keep].double() / 5.0
    order = torch.argsort(users, stable=True)
    users, columns, values = users[order], columns[order], values[order]
    k = len(nodes)
    gram = torch.zeros(k, k, dtype=torch.float64)
    bounds = torch.searchsorted(users, torch.arange(0, n_users + block, block))
    for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if start == end:
            continue
        rows, cols, vals = users[start:end] - users[start], columns[start:end], values[start:end]
        dense = torch.zeros(int(rows[-1]) + 1, k, dtype=torch.float64)
        dense[rows, cols] = vals
        transposed = torch.sparse_coo_tensor(
            torch.stack([cols, rows]), vals, (k, dense.size(0)), check_invariants=False
        )
        gram += torch.sparse.mm(transposed, dense)
    return gram


def _choose_item_item(check: _Validation, train_part, n_movies, cfg, chosen) -> dict:
    """λ and the channel's scale; the channel's scores for each view."""
    release_freed_memory()  # the member scores' temporaries, before the [K x K] work
    nodes = most_rated(train_part, n_movies, cfg.ease_movies)
    gram = item_item_gram(train_part, check.n_users, nodes, n_movies)

    def scores(given: Ratings, weights) -> np.ndarray:
        local = remap_users(given, check.members, check.n_users)
        X = covered_inputs(
            _t(local.user), _t(local.movie), _t(local.value), len(check.members), nodes, n_movies
        )
        return spread(X @ weights, nodes, n_movies).numpy()

    base = check.views["all"][0]
    best = (check.ndcg(base), None, 0.0)
    weights = None  # only the best λ's weights are kept (each is K x K)
    for lam in cfg.ease_lambdas:
        candidate = ease_weights(None, lam, gram)
        part = scores(check.views["all"][1], candidate)
        improved = False
        for scale in cfg.ease_scales:
            if scale and (score := check.ndcg(base + scale * part)) > best[0] + 1e-9:
                best, improved = (score, lam, scale), True
        if improved:
            weights = candidate
        del candidate, part
    del gram
    if best[1] is None:
        return {}
    chosen.update(ease_lambda=best[1], ease_scale=best[2], ease_movies=len(nodes))
    channel = {name: scores(given, weights) for name, (_, given) in check.views.items()}
    channel["nodes"] = nodes
    return channel


def _choose_fades(check: _Validation, channel: dict, prior, cfg, chosen) -> None:
    """How fast each fades, on every view but the profile alone (no ratings):
    the channel's first (the prior at its fastest fade), then the prior's."""

    def fitness(ease_half: float, prior_half: float) -> float:
        total = 0.0
        for name, weight in (("all", 1.0), ("earliest", 0.5), ("random", 0.5)):
            scores = check.views[name][0].copy()
            n = check.counts[name]
            if channel:
                w = item_item_weight(chosen["ease_scale"], ease_half, n).numpy()
                scores += w[:, None] * channel[name]
            if prior is not None:
                w = prior_weight(chosen["prior_scale"], prior_half, n).numpy()
                scores += w[:, None] * prior
            total += weight * check.ndcg(scores)
        return total

    fastest = min(cfg.prior_halves)
    if channel:
        chosen["ease_half"] = max(cfg.ease_halves, key=lambda h: (fitness(h, fastest), -h))
    if prior is not None:
        chosen["prior_half"] = max(
            cfg.prior_halves, key=lambda h: (fitness(chosen["ease_half"], h), -h)
        )


@torch.no_grad()
def fit_channels(model, users, user_x, movie_x, train_part, validation, all_ratings, cfg) -> dict:
    """Choose both channels on validation, then fit the kept ones on every
    rating into ``model``'s buffers; the choices made."""
    n_movies = movie_x.size(0)
    chosen = {"ease_lambda": None, "ease_scale": 0.0, "ease_half": 0.0}
    chosen.update(prior_smoothing=None, prior_scale=0.0, prior_half=1.0)
    members = sample_members(validation, cfg.eval_members, cfg.seed)
    if not len(members):
        return chosen
    keys = prior_keys(users.age, users.gender, mean_age(users.age))
    check = _Validation(model, user_x, movie_x, train_part, validation, members)
    prior = _choose_prior(check, keys, train_part, n_movies, cfg, chosen) if cfg.prior else None
    channel = _choose_item_item(check, train_part, n_movies, cfg, chosen) if cfg.ease else {}
    _choose_fades(check, channel, prior, cfg, chosen)
    # The refits on every rating need room: at a few thousand movies each
    # [M x M] matrix is 100 MB, the member scores above as much again.
    check.views.clear()
    nodes = channel.pop("nodes") if channel else None
    channel.clear()
    if nodes is None:
        chosen["ease_scale"] = 0.0
    if prior is None:
        chosen["prior_scale"] = 0.0
    return refit_channels(model, users, user_x.size(0), all_ratings, cfg, chosen, nodes)


@torch.no_grad()
def refit_channels(model, users, n_users, all_ratings, cfg, chosen: dict, nodes=None) -> dict:
    """Fit the channels ``chosen`` keeps (a scale above 0) on every rating
    into ``model``'s buffers, with those choices: what fit_channels ends
    with, and all an incremental retrain redoes (its predecessor's choices
    stand; choosing again ranks the catalogue hundreds of times)."""
    n_movies = model.rank_bias.size(0)
    kept = {key: chosen.get(key) for key in CHOICES}
    if cfg.ease and chosen.get("ease_scale") and chosen.get("ease_lambda"):
        if nodes is None:
            nodes = most_rated(all_ratings, n_movies, cfg.ease_movies)
        gram = item_item_gram(all_ratings, n_users, nodes, n_movies)
        model.ease_weights.copy_(ease_weights(None, chosen["ease_lambda"], gram))
        model.ease_nodes.copy_(nodes)
        del gram
        model.ease_scale.fill_(chosen["ease_scale"])
        model.ease_half.fill_(chosen["ease_half"])
        kept["ease_movies"] = len(nodes)
    if cfg.prior and chosen.get("prior_scale") and chosen.get("prior_smoothing") is not None:
        keys = prior_keys(users.age, users.gender, mean_age(users.age))
        table = demographic_prior(
            keys, all_ratings, n_movies, chosen["prior_bandwidth"],
            chosen["prior_other_genders"], chosen["prior_smoothing"],
        )  # fmt: skip
        model.prior_table.copy_(table)
        model.prior_scale.fill_(chosen["prior_scale"])
        model.prior_half.fill_(chosen["prior_half"])
    return {key: value for key, value in kept.items() if key in chosen or key == "ease_movies"}


CHOICES = (
    "ease_lambda", "ease_scale", "ease_half", "ease_movies", "prior_bandwidth",
    "prior_other_genders", "prior_smoothing", "prior_scale", "prior_half",
)  # fmt: skip
