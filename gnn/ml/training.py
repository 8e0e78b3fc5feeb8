"""Mini-batch training of the recommender on a Dataset. No Django here.

Each step trains on a batch of seed members (gnn.ml.sampling): their
ratings split into message-passing inputs and targets, ordinary members
keeping a random 80% as inputs, a share of them only their k earliest
ratings (k in 0, 1, 3, 5, 10) and predicting everything else. That is what
new members look like, and a model that never saw such members drifts on
them: trained on members with ~75 ratings each, it gives a 5-rating member
worse RMSE than the global mean. Few-shot members are weighted to count as
much as ordinary ones. The ranking loss is a softmax over the batch's scored
movies (every movie, or the targets plus sampled negatives); the weights kept
are an exponential moving average, chosen on validation NDCG@10.

Under torch.distributed (``torchrun``, gloo or NCCL) each process trains on
its share of every batch's seeds, DistributedDataParallel averaging the
gradients; the first process evaluates and tells the others when to stop.
"""

from __future__ import annotations

import copy
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import torch
import torch.distributed as dist

from gnn.ml import evaluation
from gnn.ml.channels import fit_channels, refit_channels, release_freed_memory, sample_members
from gnn.ml.data import Dataset, Movies, Ratings, Users
from gnn.ml.features import Preprocessor
from gnn.ml.inference import MovieCache, build_cache, rank_scores
from gnn.ml.network import Config, Recommender, fit_baseline
from gnn.ml.sampling import Batch, EdgeGraph, local_tables, sample_batch

log = logging.getLogger("gnn.training")

__all__ = [
    "TrainedModel", "WarmStart", "release_freed_memory", "sample_members", "split_validation",
    "train",
]  # fmt: skip


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


@dataclass(frozen=True)
class WarmStart:
    """Where an incremental retrain starts: a published version of the same
    catalogue, its preprocessing and weights."""

    preprocessor: Preprocessor
    state: dict[str, torch.Tensor]
    version: str
    full_retrain_at: datetime | None  # when the last full retrain behind it ran
    chosen: dict = field(default_factory=dict)  # its channels' choices, which stand


def split_validation(ratings: Ratings, fraction: float, seed: int) -> tuple[Ratings, Ratings]:
    """A random share of each user's ratings for validation; users keep at
    least five training ratings."""
    rng = np.random.default_rng(seed + 12345)
    pick = rng.random(len(ratings)) < fraction
    kept = np.bincount(ratings.user[~pick], minlength=int(ratings.user.max()) + 1)
    pick &= kept[ratings.user] >= 5
    return ratings.take(~pick), ratings.take(pick)


class _MaskedSoftmaxCE(torch.autograd.Function):
    """-sum over positives of w * log softmax(z_u . z_m + bias) / sum w, each
    seed's softmax over the scored movies except those given as input. Fused
    by hand: the backward pass forms the logit gradient directly instead of
    keeping autograd's [seeds x movies] temporaries."""

    @staticmethod
    def forward(ctx, zu, zm, bias, iu, im, pu, pm, pw):
        logits = torch.addmm(bias, zu, zm.T)
        logits.index_put_((iu, im), torch.tensor(float("-inf")))
        raw = logits[pu, pm]
        top = logits.max(1, keepdim=True).values
        p = logits.sub_(top).exp_()
        total = p.sum(1, keepdim=True)
        p.div_(total)
        weight = pw.sum().clamp(min=1e-9)  # a batch without positives adds nothing
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


class _Pass(torch.nn.Module):
    """One batch's forward pass as a module, what DistributedDataParallel wraps."""

    def __init__(self, model: Recommender, user_x, movie_x):
        super().__init__()
        self.model, self.user_x, self.movie_x = model, user_x, movie_x

    def forward(self, batch: Batch):
        tables = local_tables(self.model.movie_tables(None), batch.movies)
        return self.model.forward_blocks(
            self.user_x[batch.users], self.movie_x[batch.movies], batch.blocks, tables
        )


def _loss(model: Recommender, out: dict, batch: Batch, cfg: Config, generator) -> torch.Tensor:
    zu, zm, tables = out["u"], out["m"], out["tables"]
    n_scored = zm.size(0)
    iu, im, ir = batch.inputs
    tu, tm, tr, tw, rw = batch.targets
    bias = tables.rank_bias[:n_scored]
    if batch.log_q is not None:
        bias = bias - batch.log_q
    shown = im < n_scored
    liked = tr >= cfg.rank_pos_min
    rank_loss = _MaskedSoftmaxCE.apply(
        zu, zm, bias, iu[shown], im[shown], tu[liked], tm[liked], tw[liked]
    )
    # Rating: squared error on the targets, the member's bias from the inputs
    # only. Targets weighing less than 1 are kept with that probability
    # instead (the same expectation, a smaller gather).
    bu = model.user_bias(iu, im, ir, zu.size(0), tables.rate_bias)
    keep = torch.rand(len(rw), generator=generator) < rw
    w = rw[keep].clamp(min=1.0)
    predicted = model.rating_pairs(zu, zm, bu, tables.rate_bias[:n_scored], tu[keep], tm[keep])
    rate_loss = ((predicted - tr[keep].float()) ** 2 * w).sum() / w.sum().clamp(min=1e-9)
    return cfg.rank_weight * rank_loss + cfg.rate_weight * rate_loss


@torch.no_grad()
def warm_metrics(
    model: Recommender, cache: MovieCache, seen: Ratings, test: Ratings, n_users: int
) -> dict:
    """Users in the graph, test ratings unseen: RMSE, and full ranking of every
    movie the user has not rated in ``seen`` by the message passing alone (the
    checkpoint is chosen on it); relevant = test ratings >= 4."""
    users = np.unique(test.user)
    seen_by_user = evaluation.items_by_user(seen.user, seen.movie, n_users)
    ranked = evaluation.top_k(
        lambda start, stop: rank_scores(cache, cache.users[users[start:stop]]).numpy(),
        [seen_by_user[u] for u in users],
    )
    relevant = evaluation.relevant_items(test.user, test.movie, test.value, n_users)
    metrics = evaluation.ranking_metrics(ranked, [relevant[u] for u in users])
    return {"rmse": warm_rmse(model, cache, test), **metrics.as_dict()}


@torch.no_grad()
def warm_rmse(model: Recommender, cache: MovieCache, test: Ratings, zu=None, bu=None) -> float:
    """RMSE on ``test``, pair by pair: members in the graph, or the members
    whose embeddings ``zu`` and rating biases ``bu`` are given (user = row)."""
    rows = torch.as_tensor(test.user)
    zu = cache.users if zu is None else zu
    bu = cache.user_bias if bu is None else bu
    predictions = (
        model.mu
        + cache.rate_bias[test.movie]
        + bu[rows]
        + (model.rate_p(zu[rows]) * cache.rate_q[test.movie]).sum(1)
    )
    return round(evaluation.rmse(predictions.numpy(), test.value), 4)


def train(
    dataset: Dataset,
    cfg: Config | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    show_bar: bool = False,
    on_check: Callable[[dict], None] | None = None,
    start: WarmStart | None = None,
) -> TrainedModel | None:
    """Fit preprocessing and model on every rating in ``dataset``.

    A validation share of each member's ratings is held back for choosing the
    checkpoint (validation NDCG@10); the returned model's graph holds all
    ratings, validation included. ``start``: a version of the same catalogue
    to continue from (an incremental retrain). Reproducible
    for a given seed, thread count and number of processes: fixed seeds are
    not enough with two threads (some kernels reduce in a thread-dependent
    order), so deterministic algorithms are switched on. Under
    torch.distributed only the first process returns the model (None elsewhere).
    """
    cfg = (cfg or Config()).sized(len(dataset.ratings))
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        return _train(dataset, cfg, _Reporter(progress, show_bar, on_check, cfg), start)
    finally:
        torch.use_deterministic_algorithms(previous)


def _rank() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@dataclass
class _Setup:
    preprocessor: Preprocessor
    train_part: Ratings
    validation: Ratings
    watched: Ratings
    graph: EdgeGraph
    model: Recommender
    user_x: torch.Tensor
    movie_x: torch.Tensor
    popularity: torch.Tensor  # each movie's share of the liked training ratings


def _setup(dataset: Dataset, cfg: Config, start: WarmStart | None) -> _Setup:
    users, movies = dataset.users, dataset.movies
    preprocessor = (
        start.preprocessor if start else Preprocessor.fit(users, movies, use_zip=cfg.use_zip)
    )
    train_part, validation = split_validation(dataset.ratings, cfg.val_frac, cfg.seed)
    graph = EdgeGraph(train_part, len(users), len(movies))
    # Early stopping watches a fixed sample of the validation members.
    watched = validation.take(
        np.isin(validation.user, sample_members(validation, cfg.eval_members, cfg.seed))
    )
    mu, base = fit_baseline(graph.user, graph.movie, graph.value, len(users), len(movies))
    model = Recommender(
        preprocessor.n_user_features, preprocessor.n_movie_features, len(movies), mu, cfg
    )
    liked = torch.bincount(graph.movie[graph.value >= cfg.rank_pos_min], minlength=len(movies))
    with torch.no_grad():
        model.base_bias.copy_(base)
        if cfg.init_biases:
            # Adam moves a parameter by about lr a step: biases that must
            # travel several units would take hundreds of steps from zero.
            model.rate_bias.copy_(base)
            log_popularity = torch.log1p(liked.float())
            model.rank_bias.copy_(log_popularity - log_popularity.mean())
    if start is not None:
        model.load_state_dict(start.state)
    graph.set_baseline(float(model.mu), model.base_bias)
    return _Setup(
        preprocessor, train_part, validation, watched, graph, model,
        torch.from_numpy(preprocessor.user_features(users)),
        torch.from_numpy(preprocessor.movie_features(movies)),
        liked.float() / max(int(liked.sum()), 1),
    )  # fmt: skip


class _Reporter:
    """The moving average kept, the best checkpoint, early stopping and the
    notes on progress."""

    def __init__(self, progress, show_bar, on_check, cfg: Config):
        self.progress, self.on_check, self.cfg = progress, on_check, cfg
        self.bar = _progress_bar(cfg.max_steps, show_bar)
        self.history: list[dict] = []
        self.best = {"ndcg": -1.0, "step": 0, "state": None}
        self.stale, self.mark = 0, -1.0

    def check(self, metrics: dict) -> bool:
        """Record one validation check; whether training should stop."""
        self.history.append(metrics)
        if self.on_check is not None:  # each check as it comes: a failed run keeps them
            self.on_check(dict(metrics))
        note = f"validation NDCG@10 {metrics['ndcg_at_10']:.4f}, RMSE {metrics['rmse']:.4f}"
        if self.bar is not None:
            self.bar.set_postfix_str(note)
        if self.progress is not None:
            self.progress(f"step {metrics['step']}: {note}")
        # The best checkpoint is kept whatever the margin; only a gain of at
        # least min_delta counts as progress (a plateau's +0.0001 wiggles do
        # not hold training on).
        if metrics["ndcg_at_10"] >= self.mark + self.cfg.min_delta:
            self.mark, self.stale = metrics["ndcg_at_10"], 0
        else:
            self.stale += 1
        return self.stale >= self.cfg.patience

    def keep_if_best(self, metrics: dict, average: Recommender) -> None:
        if metrics["ndcg_at_10"] > self.best["ndcg"]:
            state = copy.deepcopy(average.state_dict())
            self.best = {"ndcg": metrics["ndcg_at_10"], "step": metrics["step"], "state": state}


def _batches(setup: _Setup, cfg: Config):
    """Every step's seed members, epoch after epoch, alike in every process
    (each trains on its share of each batch)."""
    order = torch.Generator().manual_seed(cfg.seed)
    members = (setup.graph.user_degree > 0).nonzero().squeeze(1)
    while True:
        yield from setup.graph.epoch_batches(members, cfg.batch_members, order)


def _train(dataset: Dataset, cfg: Config, report: _Reporter, start) -> TrainedModel | None:
    started = time.perf_counter()
    rank, world = _rank()
    torch.manual_seed(cfg.seed + rank)
    generator = torch.Generator().manual_seed(cfg.seed * 1000 + rank)
    setup = _setup(dataset, cfg, start)
    model = setup.model
    step_pass = _Pass(model, setup.user_x, setup.movie_x)
    if world > 1:
        step_pass = torch.nn.parallel.DistributedDataParallel(step_pass, forward_sync_buffers=False)
    plain = {"movie_emb.weight", "rank_bias", "rate_bias"}
    optimiser = torch.optim.Adam(
        [
            {"params": [p for n, p in model.named_parameters() if n not in plain]},
            {"params": [p for n, p in model.named_parameters() if n in plain]},
        ],
        lr=cfg.lr,
    )
    # Each step's split makes gradients noisy; the moving average of the
    # weights is a smoother model, and the one evaluated and kept.
    average = copy.deepcopy(model)
    average_params, params = list(average.parameters()), list(model.parameters())
    report.keep_if_best({"ndcg_at_10": -0.5, "step": 0}, average)
    shares = []
    split_generator = torch.Generator().manual_seed(cfg.seed * 1000 + 999)  # alike everywhere
    batches = _batches(setup, cfg)
    for step, seeds in zip(range(1, cfg.max_steps + 1), batches, strict=False):
        model.train()
        batch = sample_batch(
            setup.graph, seeds, cfg, setup.popularity, generator, split_generator, (rank, world)
        )
        shares.append(len(torch.tensor_split(seeds, world)[rank]))
        loss = _loss(model, step_pass(batch), batch, cfg, generator)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            for kept, live in zip(average_params, params, strict=True):
                kept.lerp_(live, 1.0 - cfg.ema)
        if report.bar is not None:
            report.bar.update(1)
        if step % cfg.eval_every and step != cfg.max_steps:
            continue
        if _stop(report, setup, average, step, rank, world):
            break
    if report.bar is not None:
        report.bar.close()
    if world > 1:
        mean = float(np.mean(shares)) if shares else 0.0
        log.info("process %d of %d: %.1f seed members a step", rank + 1, world, mean)
    if rank:
        return None
    model.load_state_dict(report.best["state"])
    model.eval()
    phases = {
        "message_passing": round(time.perf_counter() - started, 1),
        # The high-water mark after it (MiB), not a duration.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    channels_started = time.perf_counter()
    release_freed_memory()
    chosen = _how_trained(cfg, world, shares, start)
    if start is not None and start.chosen:
        chosen |= refit_channels(
            model, dataset.users, setup.user_x.size(0), dataset.ratings, cfg, start.chosen
        )
    elif cfg.ease or cfg.prior:
        chosen |= fit_channels(
            model, dataset.users, setup.user_x, setup.movie_x, setup.train_part,
            setup.validation, dataset.ratings, cfg,
        )  # fmt: skip
    return TrainedModel(
        model=model, preprocessor=setup.preprocessor, users=dataset.users,
        movies=dataset.movies, ratings=dataset.ratings, best_step=report.best["step"],
        seconds=time.perf_counter() - started, history=report.history, chosen=chosen,
        phases={**phases, "channels": round(time.perf_counter() - channels_started, 1)},
    )  # fmt: skip


def _how_trained(cfg: Config, world: int, shares: list, start: WarmStart | None) -> dict:
    """What the version's metadata says of how it was trained."""
    full_at = (start.full_retrain_at if start else None) or datetime.now(UTC)
    return {
        # The steps of the last full retrain: an incremental one trains a share of them.
        "full_retrain_steps": (start.chosen.get("full_retrain_steps") if start else None)
        or len(shares),
        "processes": world,
        "seeds_per_step": round(float(np.mean(shares)), 1) if shares else 0.0,
        "batch_members": cfg.batch_members,
        "fanout": cfg.fanout,
        "negatives": cfg.negatives,
        "started_from": start.version if start else None,
        "full_retrain_at": full_at.isoformat(),
    }


def _stop(report: _Reporter, setup: _Setup, average, step: int, rank: int, world: int) -> bool:
    """The first process checks validation; every process learns whether to stop."""
    stop = torch.zeros(1)
    if rank == 0:
        graph = setup.graph
        cache = build_cache(
            average, setup.user_x, setup.movie_x, None, graph.user, graph.movie, graph.value
        )
        metrics = warm_metrics(
            average, cache, setup.train_part, setup.watched, setup.user_x.size(0)
        )
        metrics["step"] = step
        report.keep_if_best(metrics, average)
        stop.fill_(float(report.check(metrics)))
    if world > 1:
        dist.broadcast(stop, src=0)
    return bool(stop.item())


def _progress_bar(total: int, show: bool):
    if not show:
        return None
    from tqdm import tqdm

    # disable=None: a bar on a terminal, nothing in logs and pipes.
    return tqdm(total=total, unit=" steps", desc="training", leave=False, disable=None)
