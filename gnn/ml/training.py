"""Full-batch training of the recommender on a Dataset. No Django here.

Each step splits every user's edges into message-passing inputs and targets:
ordinary users keep a random 80% as inputs and must predict the rest; a share
of users keep only their k earliest ratings (k in 0, 1, 3, 5, 10) and must
predict everything else. That is what new members look like, and a model that
never saw such users drifts on them: trained on users with ~75 ratings each,
it gives a 5-rating user worse RMSE than the global mean. Targets never pass
messages, so the model cannot copy them. Few-shot users are weighted to count
as much as ordinary ones (otherwise their many targets take ~85% of the
loss). The weights kept are an exponential moving average, chosen on
validation NDCG@10.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from gnn.ml import evaluation
from gnn.ml.data import Dataset, Movies, Ratings, Users
from gnn.ml.features import Preprocessor
from gnn.ml.inference import MovieCache, build_cache, rank_scores
from gnn.ml.network import (
    N_RATINGS,
    Config,
    Recommender,
    entry_orders,
    fit_baseline,
    restrict_order,
)


@dataclass
class TrainedModel:
    model: Recommender
    preprocessor: Preprocessor
    users: Users  # rows of the training graph
    movies: Movies
    ratings: Ratings  # every training rating (the graph that is served)
    best_step: int
    seconds: float
    history: list[dict] = field(default_factory=list)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            "user_x": self.preprocessor.user_features(self.users),
            "movie_x": self.preprocessor.movie_features(self.movies),
            "movie_rows": torch.as_tensor(self.preprocessor.movie_rows(self.movies.ids)),
            "ui": torch.as_tensor(self.ratings.user),
            "mi": torch.as_tensor(self.ratings.movie),
            "r": torch.as_tensor(self.ratings.value),
        }

    def cache(self) -> MovieCache:
        return build_cache(self.model, **self.tensors())


def split_validation(ratings: Ratings, fraction: float, seed: int) -> tuple[Ratings, Ratings]:
    """A random share of each user's ratings for validation; users keep at
    least five training ratings."""
    rng = np.random.default_rng(seed + 12345)
    pick = rng.random(len(ratings)) < fraction
    kept = np.bincount(ratings.user[~pick], minlength=int(ratings.user.max()) + 1)
    pick &= kept[ratings.user] >= 5
    return ratings.take(~pick), ratings.take(pick)


class _Edges:
    """Training edges sorted by user then time, with each edge's position in
    its user's history (few-shot subsets cost nothing per step) and the entry
    orders of both adjacencies (each step restricts them instead of sorting)."""

    def __init__(self, ratings: Ratings, n_users: int, cfg: Config):
        order = np.lexsort((ratings.movie, ratings.time, ratings.user))
        ordered = ratings.take(order)
        self.u = torch.as_tensor(ordered.user, dtype=torch.long)
        self.m = torch.as_tensor(ordered.movie, dtype=torch.long)
        self.r = torch.as_tensor(ordered.value, dtype=torch.long)
        self.rank = torch.as_tensor(ordered.rank_in_user_history(), dtype=torch.long)
        self.n_users = n_users
        self.degree = torch.bincount(self.u, minlength=n_users)
        self.entries_per_edge = cfg.n_types - N_RATINGS + 1
        self.orders_mu = entry_orders(self.m, self.u, self.r, cfg.n_types, cfg.centred)
        self.orders_um = entry_orders(self.u, self.m, self.r, cfg.n_types, cfg.centred)

    def inputs(self, mask: torch.Tensor):
        """The input edges (u, m, r) and their adjacency entry orders."""
        index = mask.nonzero().squeeze(1)
        entry_mask = mask.repeat_interleave(self.entries_per_edge)
        positions = torch.cumsum(entry_mask, 0) - 1
        n_entries = int(positions[-1]) + 1 if len(positions) else 0
        # Edges are sorted by user, so the user-side rows are already in order.
        orders = (
            (torch.arange(n_entries), restrict_order(self.orders_mu[1], entry_mask, positions)),
            tuple(restrict_order(o, entry_mask, positions) for o in self.orders_um),
        )
        return self.u[index], self.m[index], self.r[index], orders


def _sample(edges: _Edges, cfg: Config, generator: torch.Generator):
    """(input mask, per-edge target weight, few-shot mask) for one step."""
    n_users = edges.n_users
    fewshot = torch.rand(n_users, generator=generator) < cfg.fewshot_share
    choices = torch.tensor(cfg.fewshot_ks)
    ks = choices[torch.randint(len(choices), (n_users,), generator=generator)]
    keep_fewshot = edges.rank < ks[edges.u]
    keep_random = torch.rand(len(edges.u), generator=generator) >= cfg.target_frac
    fewshot_edge = fewshot[edges.u]
    inputs = torch.where(fewshot_edge, keep_fewshot, keep_random)
    weight = torch.ones(len(edges.u))
    if cfg.fewshot_balance:
        targets = (edges.degree - ks).clamp(min=1).float()
        balanced = cfg.fewshot_balance * cfg.target_frac * edges.degree.float() / targets
        weight = torch.where(fewshot_edge, balanced[edges.u], weight)
    return inputs, weight, fewshot_edge


class _MaskedSoftmaxCE(torch.autograd.Function):
    """-sum over positives of w * log softmax(z_u . z_m + bias) / sum w, each
    user's softmax over every movie except those given as input. Fused by
    hand: the backward pass forms the logit gradient directly instead of
    keeping autograd's [users x movies] temporaries."""

    @staticmethod
    def forward(ctx, zu, zm, bias, iu, im, pu, pm, pw):
        logits = torch.addmm(bias, zu, zm.T)
        logits.index_put_((iu, im), torch.tensor(float("-inf")))
        raw = logits[pu, pm]
        top = logits.max(1, keepdim=True).values
        p = logits.sub_(top).exp_()
        total = p.sum(1, keepdim=True)
        p.div_(total)
        weight = pw.sum()
        loss = -((raw - top[pu, 0] - total[pu, 0].log()) * pw).sum() / weight
        ctx.save_for_backward(zu, zm, p, pu, pm, pw)
        ctx.weight = weight
        return loss

    @staticmethod
    def backward(ctx, grad):
        zu, zm, p, pu, pm, pw = ctx.saved_tensors
        scale = grad / ctx.weight
        coefficient = torch.zeros(p.size(0)).index_add_(0, pu, pw) * scale
        G = p.mul_(coefficient[:, None])
        G.index_put_((pu, pm), -pw * scale, accumulate=True)
        return G @ zm, G.T @ zu, G.sum(0), None, None, None, None, None


def _losses(model, out, edges, inputs_mask, inputs, weight, rate_weight, cfg, generator):
    zu, zm, tables = out["u"], out["m"], out["tables"]
    targets = (~inputs_mask).nonzero().squeeze(1)
    tu, tm, tr, tw = edges.u[targets], edges.m[targets], edges.r[targets], weight[targets]
    rw = rate_weight[targets]
    iu, im, ir = inputs
    liked = tr >= cfg.rank_pos_min
    rank_loss = _MaskedSoftmaxCE.apply(
        zu, zm, tables.rank_bias, iu, im, tu[liked], tm[liked], tw[liked]
    )
    # Rating: squared error on the targets, the user bias from the inputs only.
    # Targets weighing less than 1 are kept with that probability instead
    # (the same expectation, a smaller gather).
    bu = model.user_bias(iu, im, ir, zu.size(0), tables.rate_bias)
    keep = torch.rand(len(rw), generator=generator) < rw
    w = rw[keep].clamp(min=1.0)
    predicted = model.rating_pairs(zu, zm, bu, tables.rate_bias, tu[keep], tm[keep])
    rate_loss = ((predicted - tr[keep].float()) ** 2 * w).sum() / w.sum()
    return rank_loss, rate_loss


@torch.no_grad()
def warm_metrics(
    model: Recommender, cache: MovieCache, seen: Ratings, test: Ratings, n_users: int
) -> dict:
    """Users in the graph, test ratings unseen: RMSE, and full ranking of every
    movie the user has not rated in ``seen``; relevant = test ratings >= 4."""
    users = np.unique(test.user)
    scores = rank_scores(cache, cache.users[users]).numpy()
    seen_by_user = evaluation.items_by_user(seen.user, seen.movie, n_users)
    ranked = evaluation.top_k(scores, [seen_by_user[u] for u in users])
    relevant = evaluation.relevant_items(test.user, test.movie, test.value, n_users)
    metrics = evaluation.ranking_metrics(ranked, [relevant[u] for u in users])
    rows = torch.as_tensor(test.user)
    predictions = (
        model.mu
        + cache.rate_bias[test.movie]
        + cache.user_bias[rows]
        + (model.rate_p(cache.users[rows]) * cache.rate_q[test.movie]).sum(1)
    )
    return {"rmse": round(evaluation.rmse(predictions.numpy(), test.value), 4), **metrics.as_dict()}


def train(
    dataset: Dataset,
    cfg: Config | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    show_bar: bool = False,
) -> TrainedModel:
    """Fit preprocessing and model on every rating in ``dataset``.

    A validation share of each user's ratings is held back for choosing the
    checkpoint (validation NDCG@10); the returned model's graph holds all
    ratings, validation included. Reproducible for a given seed and thread
    count: fixed seeds are not enough with two threads (some kernels reduce
    in a thread-dependent order), so deterministic algorithms are switched on.
    """
    cfg = cfg or Config()
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        return _train(dataset, cfg, progress, show_bar)
    finally:
        torch.use_deterministic_algorithms(previous)


def _train(dataset: Dataset, cfg: Config, progress, show_bar) -> TrainedModel:
    started = time.perf_counter()
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    users, movies, all_ratings = dataset.users, dataset.movies, dataset.ratings
    n_users, n_movies = len(users), len(movies)
    preprocessor = Preprocessor.fit(users, movies, use_zip=cfg.use_zip)
    train_part, validation = split_validation(all_ratings, cfg.val_frac, cfg.seed)
    edges = _Edges(train_part, n_users, cfg)
    mu, base = fit_baseline(edges.u, edges.m, edges.r, n_users, n_movies)
    model = Recommender(
        preprocessor.n_user_features, preprocessor.n_movie_features, n_movies, mu, cfg
    )
    with torch.no_grad():
        model.base_bias.copy_(base)
        if cfg.init_biases:
            # Adam moves a parameter by about lr a step: biases that must
            # travel several units would take hundreds of steps from zero.
            model.rate_bias.copy_(base)
            liked = torch.bincount(edges.m[edges.r >= cfg.rank_pos_min], minlength=n_movies)
            log_popularity = torch.log1p(liked.float())
            model.rank_bias.copy_(log_popularity - log_popularity.mean())
    user_x = preprocessor.user_features(users)
    movie_x = preprocessor.movie_features(movies)

    plain = {"movie_emb.weight", "rank_bias", "rate_bias"}
    optimiser = torch.optim.Adam(
        [
            {"params": [p for n, p in model.named_parameters() if n not in plain]},
            {"params": [p for n, p in model.named_parameters() if n in plain]},
        ],
        lr=cfg.lr,
    )
    # The per-step split makes gradients noisy; the moving average of the
    # weights is a smoother model, and the one evaluated and kept.
    average = copy.deepcopy(model)
    average_params, params = list(average.parameters()), list(model.parameters())
    best = {"ndcg": -1.0, "step": 0, "state": copy.deepcopy(average.state_dict())}
    history: list[dict] = []
    stale = 0
    bar = _progress_bar(cfg.max_steps, show_bar)
    for step in range(1, cfg.max_steps + 1):
        model.train()
        inputs_mask, weight, fewshot = _sample(edges, cfg, generator)
        rate_weight = torch.where(fewshot, weight * cfg.fewshot_rate_weight, weight)
        iu, im, ir, orders = edges.inputs(inputs_mask)
        out = model(user_x, movie_x, iu, im, ir, None, orders)
        rank_loss, rate_loss = _losses(
            model, out, edges, inputs_mask, (iu, im, ir), weight, rate_weight, cfg, generator
        )
        loss = cfg.rank_weight * rank_loss + cfg.rate_weight * rate_loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            for kept, live in zip(average_params, params, strict=True):
                kept.lerp_(live, 1.0 - cfg.ema)
        if bar is not None:
            bar.update(1)
        if step % cfg.eval_every and step != cfg.max_steps:
            continue
        cache = build_cache(average, user_x, movie_x, None, edges.u, edges.m, edges.r)
        metrics = warm_metrics(average, cache, train_part, validation, n_users)
        metrics["step"] = step
        history.append(metrics)
        note = (
            f"step {step}: validation NDCG@10 {metrics['ndcg_at_10']:.4f}, "
            f"RMSE {metrics['rmse']:.4f}"
        )
        if bar is not None:
            bar.set_postfix_str(note.split(": ", 1)[1])
        if progress is not None:
            progress(note)
        if metrics["ndcg_at_10"] > best["ndcg"]:
            best = {
                "ndcg": metrics["ndcg_at_10"],
                "step": step,
                "state": copy.deepcopy(average.state_dict()),
            }
            stale = 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    if bar is not None:
        bar.close()
    model.load_state_dict(best["state"])
    model.eval()
    return TrainedModel(
        model=model,
        preprocessor=preprocessor,
        users=users,
        movies=movies,
        ratings=all_ratings,
        best_step=best["step"],
        seconds=time.perf_counter() - started,
        history=history,
    )


def _progress_bar(total: int, show: bool):
    if not show:
        return None
    from tqdm import tqdm

    # disable=None: a bar on a terminal, nothing in logs and pipes.
    return tqdm(total=total, unit=" steps", desc="training", leave=False, disable=None)


def load_model(state_dict: dict, preprocessor: Preprocessor, metadata: dict) -> Recommender:
    """Rebuild a published model; raises ValueError when it does not fit."""
    cfg = Config.from_dict(metadata.get("hyperparameters") or {})
    model = Recommender(
        preprocessor.n_user_features,
        preprocessor.n_movie_features,
        preprocessor.n_known_movies,
        0.0,
        cfg,
    )
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"the weights do not fit this model: {exc}") from None
    model.eval()
    return model
