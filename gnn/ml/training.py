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

import contextlib
import copy
import ctypes
import itertools
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from gnn.ml import evaluation
from gnn.ml.data import (
    Dataset,
    Movies,
    Ratings,
    Users,
    earliest,
    random_k,
    remap_users,
    sample_rows,
)
from gnn.ml.features import Preprocessor
from gnn.ml.inference import (
    MovieCache,
    build_cache,
    embed_users,
    item_item_inputs,
    item_item_weight,
    prior_weight,
    rank_scores,
)
from gnn.ml.network import (
    MAX_AGE,
    N_PRIOR_KEYS,
    N_RATINGS,
    Config,
    Recommender,
    ease_gram,
    ease_weights,
    entry_orders,
    fit_baseline,
    prior_keys,
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
    chosen: dict = field(default_factory=dict)  # hyperparameters chosen on validation
    phases: dict = field(default_factory=dict)  # seconds per phase of training

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            "user_x": torch.from_numpy(self.preprocessor.user_features(self.users)),
            "movie_x": torch.from_numpy(self.preprocessor.movie_features(self.movies)),
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


def sample_members(validation: Ratings, limit: int, seed: int) -> np.ndarray:
    """The validation members (sorted), or a fixed seeded sample of ``limit``
    of them."""
    return sample_rows(np.unique(validation.user), limit, seed + 4242)


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
    movie the user has not rated in ``seen`` by the message passing alone (the
    checkpoint is chosen on it); relevant = test ratings >= 4."""
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
    on_check: Callable[[dict], None] | None = None,
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
        return _train(dataset, cfg, progress, show_bar, on_check)
    finally:
        torch.use_deterministic_algorithms(previous)


def _train(dataset: Dataset, cfg: Config, progress, show_bar, on_check=None) -> TrainedModel:
    started = time.perf_counter()
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    users, movies, all_ratings = dataset.users, dataset.movies, dataset.ratings
    n_users, n_movies = len(users), len(movies)
    preprocessor = Preprocessor.fit(users, movies, use_zip=cfg.use_zip)
    train_part, validation = split_validation(all_ratings, cfg.val_frac, cfg.seed)
    edges = _Edges(train_part, n_users, cfg)
    # Early stopping watches a fixed sample of the validation members.
    watched = validation.take(
        np.isin(validation.user, sample_members(validation, cfg.eval_members, cfg.seed))
    )
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
    user_x = torch.from_numpy(preprocessor.user_features(users))
    movie_x = torch.from_numpy(preprocessor.movie_features(movies))

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
    stale, progress_mark = 0, -1.0
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
        metrics = warm_metrics(average, cache, train_part, watched, n_users)
        metrics["step"] = step
        history.append(metrics)
        if on_check is not None:  # each validation check as it comes: a failed run keeps them
            on_check(dict(metrics))
        note = (
            f"step {step}: validation NDCG@10 {metrics['ndcg_at_10']:.4f}, "
            f"RMSE {metrics['rmse']:.4f}"
        )
        if bar is not None:
            bar.set_postfix_str(note.split(": ", 1)[1])
        if progress is not None:
            progress(note)
        # The best checkpoint is kept whatever the margin; only a gain of at
        # least min_delta counts as progress (a plateau's +0.0001 wiggles do
        # not hold training on).
        if metrics["ndcg_at_10"] >= progress_mark + cfg.min_delta:
            progress_mark, stale = metrics["ndcg_at_10"], 0
        else:
            stale += 1
        if metrics["ndcg_at_10"] > best["ndcg"]:
            best = {
                "ndcg": metrics["ndcg_at_10"],
                "step": step,
                "state": copy.deepcopy(average.state_dict()),
            }
        if stale >= cfg.patience:
            break
    if bar is not None:
        bar.close()
    model.load_state_dict(best["state"])
    model.eval()
    phases = {
        "message_passing": round(time.perf_counter() - started, 1),
        # The high-water mark after it (MiB), not a duration.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    channels_started = time.perf_counter()
    release_freed_memory()
    chosen = {}
    if cfg.ease or cfg.prior:
        chosen = fit_channels(
            model, users, user_x, movie_x, train_part, validation, all_ratings, cfg
        )
    return TrainedModel(
        model=model,
        preprocessor=preprocessor,
        users=users,
        movies=movies,
        ratings=all_ratings,
        best_step=best["step"],
        seconds=time.perf_counter() - started,
        history=history,
        chosen=chosen,
        phases={**phases, "channels": round(time.perf_counter() - channels_started, 1)},
    )


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's malloc_trim).

    A training step's many mid-sized tensors leave the heap fragmented, and
    glibc keeps those pages: without this the process's peak memory is the
    message passing's leftovers plus whatever comes next."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _ndcg(scores: np.ndarray, exclude, relevant) -> float:
    return evaluation.ranking_metrics(evaluation.top_k(scores, exclude), relevant).ndcg


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
    counts = counts.reshape(3, MAX_AGE + 1, n_movies)
    years = np.arange(MAX_AGE + 1, dtype=np.float64)
    kernel = np.exp(-((years[:, None] - years[None, :]) ** 2) / (2 * bandwidth**2))
    near = np.einsum("ab,gbm->gam", kernel, counts)
    mixed = (1 - other_genders) * near + other_genders * near.sum(0, keepdims=True)
    overall = counts.sum((0, 1)) + 1.0
    overall /= overall.sum()
    share = (mixed + smoothing * n_movies * overall) / (
        mixed.sum(-1, keepdims=True) + smoothing * n_movies
    )
    return torch.as_tensor(np.log(share).reshape(N_PRIOR_KEYS, n_movies), dtype=torch.float32)


@torch.no_grad()
def fit_channels(model, users, user_x, movie_x, train_part, validation, all_ratings, cfg) -> dict:
    """The item-item channel and the demographic prior, chosen after the
    message passing is trained, on the validation share (the training share
    as the graph; each validation member's training ratings excluded, their
    validation ratings ranked):

    - the prior's smoothing and weight, with each member represented by their
      profile alone;
    - λ and the channel's weight, with each member represented by all their
      training ratings;
    - how fast each fades with the number of ratings, by the sum of NDCG@10
      of all their ratings and of 5 of them (their 5 earliest, and 5 random
      ones: both kinds of new member).

    The weights kept are fitted on every rating.
    """

    n_users, n_movies = user_x.size(0), movie_x.size(0)
    t = torch.as_tensor
    tu, tm, tr = t(train_part.user), t(train_part.movie), t(train_part.value)
    cache = build_cache(model, user_x, movie_x, None, tu, tm, tr)
    members = sample_members(validation, cfg.eval_members, cfg.seed)
    chosen = {"ease_lambda": None, "ease_scale": 0.0, "ease_half": 0.0}
    chosen.update(prior_smoothing=None, prior_scale=0.0, prior_half=1.0)
    if not len(members):
        return chosen
    keys = prior_keys(users.age, users.gender, float(np.nanmean(users.age)) if len(users) else 30.0)
    seen = evaluation.items_by_user(train_part.user, train_part.movie, n_users)
    relevant_all = evaluation.relevant_items(
        validation.user, validation.movie, validation.value, n_users
    )
    exclude = [seen[u] for u in members]
    relevant = [relevant_all[u] for u in members]
    rows = t(members)

    def ndcg(scores) -> float:
        return _ndcg(scores, exclude, relevant)

    def gnn_scores(given: Ratings) -> np.ndarray:
        given = remap_users(given, members, n_users)
        zu, _ = embed_users(
            model, cache, user_x[rows], t(given.user), t(given.movie), t(given.value)
        )
        return rank_scores(cache, zu).numpy()

    empty = train_part.take(np.zeros(len(train_part), dtype=bool))
    mine = train_part.take(np.isin(train_part.user, members))
    # Each way of representing the members: (model scores, their ratings, counts).
    views = {"profile": (gnn_scores(empty), empty)}
    views["all"] = (rank_scores(cache, cache.users[rows]).numpy(), mine)
    for name, reveal in (("earliest", earliest), ("random", random_k)):
        given, _ = reveal(mine, 5)
        views[name] = (gnn_scores(given), given)
    counts = {
        name: torch.bincount(t(given.user), minlength=n_users)[rows]
        for name, (_, given) in views.items()
    }

    prior = None
    if cfg.prior:
        base = views["profile"][0]
        best = (ndcg(base), None, 0.0)
        tables = {}
        for setting in itertools.product(
            cfg.prior_bandwidths, cfg.prior_other_genders, cfg.prior_smoothings
        ):
            tables[setting] = demographic_prior(keys, train_part, n_movies, *setting)
            part = tables[setting][t(keys[members])].numpy()
            for scale in cfg.prior_scales:
                if scale and (score := ndcg(base + scale * part)) > best[0] + 1e-9:
                    best = (score, setting, scale)
        if best[1] is not None:
            bandwidth, other_genders, smoothing = best[1]
            chosen.update(
                prior_bandwidth=bandwidth, prior_other_genders=other_genders,
                prior_smoothing=smoothing, prior_scale=best[2],
            )  # fmt: skip
            prior = tables[best[1]][t(keys[members])].numpy()
        tables.clear()

    channel = {}
    if cfg.ease:
        release_freed_memory()  # the member scores' temporaries, before the [M x M] work
        X = item_item_inputs(tu, tm, tr, n_users, n_movies)
        base = views["all"][0]
        best = (ndcg(base), None, 0.0)
        gram = ease_gram(X)
        X = X[rows]  # only the members' rows are scored below
        weights = None  # only the best λ's weights are kept (each is M x M)
        for lam in cfg.ease_lambdas:
            candidate = ease_weights(None, lam, gram)
            part = (X @ candidate).numpy()
            improved = False
            for scale in cfg.ease_scales:
                if scale and (score := ndcg(base + scale * part)) > best[0] + 1e-9:
                    best, improved = (score, lam, scale), True
            if improved:
                weights = candidate
            del candidate, part
        del gram
        if best[1] is not None:
            chosen.update(ease_lambda=best[1], ease_scale=best[2])
            for name, (_, given) in views.items():
                local = remap_users(given, members, n_users)
                inputs = item_item_inputs(
                    t(local.user), t(local.movie), t(local.value), len(members), n_movies
                )
                channel[name] = (inputs @ weights).numpy()
        del X, weights

    # How fast each fades, on every view but the profile alone (no ratings):
    # the channel's first (the prior at its fastest fade), then the prior's.
    def fitness(ease_half: float, prior_half: float) -> float:
        total = 0.0
        for name, weight in (("all", 1.0), ("earliest", 0.5), ("random", 0.5)):
            scores = views[name][0].copy()
            n = counts[name]
            if channel:
                w = item_item_weight(chosen["ease_scale"], ease_half, n).numpy()
                scores += w[:, None] * channel[name]
            if prior is not None:
                w = prior_weight(chosen["prior_scale"], prior_half, n).numpy()
                scores += w[:, None] * prior
            total += weight * ndcg(scores)
        return total

    fastest = min(cfg.prior_halves)
    if channel:
        chosen["ease_half"] = max(cfg.ease_halves, key=lambda h: (fitness(h, fastest), -h))
    if prior is not None:
        chosen["prior_half"] = max(
            cfg.prior_halves, key=lambda h: (fitness(chosen["ease_half"], h), -h)
        )

    # The refits on every rating below need room: at a few thousand movies
    # each [M x M] matrix is 100 MB, the member scores above as much again.
    fitted_channel, fitted_prior = bool(channel), prior is not None
    views.clear()
    channel.clear()
    prior = None
    if fitted_channel:
        everything = item_item_inputs(
            t(all_ratings.user), t(all_ratings.movie), t(all_ratings.value), n_users, n_movies
        )
        model.ease_weights.copy_(ease_weights(everything, chosen["ease_lambda"]))
        model.ease_scale.fill_(chosen["ease_scale"])
        model.ease_half.fill_(chosen["ease_half"])
        del everything
    if fitted_prior:
        table = demographic_prior(
            keys, all_ratings, n_movies, chosen["prior_bandwidth"],
            chosen["prior_other_genders"], chosen["prior_smoothing"],
        )  # fmt: skip
        model.prior_table.copy_(table)
        model.prior_scale.fill_(chosen["prior_scale"])
        model.prior_half.fill_(chosen["prior_half"])
    return chosen


def _progress_bar(total: int, show: bool):
    if not show:
        return None
    from tqdm import tqdm

    # disable=None: a bar on a terminal, nothing in logs and pipes.
    return tqdm(total=total, unit=" steps", desc="training", leave=False, disable=None)
