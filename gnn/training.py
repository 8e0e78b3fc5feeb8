"""Full-batch training of the recommender on a Dataset. No Django here.

Each step splits every user's edges into message-passing inputs and targets:
ordinary users keep a random share as inputs and must predict the rest; a
share of users keep only their k earliest ratings (k in 0, 1, 3, 5, 10) and
must predict everything else. That is what new members look like, and a model
that never saw such users drifts on them (MODEL_NOTES 3). Targets never pass
messages, so the model cannot copy them.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from gnn import evaluation
from gnn.data import Dataset, Movies, Ratings, Users
from gnn.features import Preprocessor
from gnn.inference import MovieCache, build_cache, predicted_ratings, rank_scores
from gnn.model import Config, Recommender


@dataclass
class TrainedModel:
    model: Recommender
    preprocessor: Preprocessor
    users: Users  # rows of the training graph
    movies: Movies
    ratings: Ratings  # every training rating (the graph that is served)
    mu: float
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
    """Training edges as tensors, each with its position in its user's
    history (by time), so a step's few-shot subsets cost nothing."""

    def __init__(self, ratings: Ratings, n_users: int):
        self.u = torch.as_tensor(ratings.user, dtype=torch.long)
        self.m = torch.as_tensor(ratings.movie, dtype=torch.long)
        self.r = torch.as_tensor(ratings.value, dtype=torch.long)
        self.rank = torch.as_tensor(ratings.rank_in_user_history(), dtype=torch.long)
        self.n_users = n_users


def _input_mask(edges: _Edges, cfg: Config, generator: torch.Generator) -> torch.Tensor:
    fewshot = torch.rand(edges.n_users, generator=generator) < cfg.fewshot_share
    choices = torch.tensor(cfg.fewshot_ks)
    ks = choices[torch.randint(len(choices), (edges.n_users,), generator=generator)]
    keep_fewshot = edges.rank < ks[edges.u]
    keep_random = torch.rand(len(edges.u), generator=generator) >= cfg.target_frac
    return torch.where(fewshot[edges.u], keep_fewshot, keep_random)


def _losses(model: Recommender, out, edges: _Edges, inputs, rank_bias, rate_bias, cfg: Config):
    zu, zm = out["u"], out["m"]
    targets = ~inputs
    tu, tm, tr = edges.u[targets], edges.m[targets], edges.r[targets]
    iu, im, ir = edges.u[inputs], edges.m[inputs], edges.r[inputs]
    # Ranking: softmax over every movie the user did not give as input.
    logits = model.rank_scores(zu, zm, rank_bias).index_put((iu, im), torch.tensor(float("-inf")))
    log_norm = torch.logsumexp(logits, dim=1)
    liked = tr >= cfg.rank_pos_min
    rank_loss = -(logits[tu[liked], tm[liked]] - log_norm[tu[liked]]).mean()
    # Rating: squared error on the targets, the user bias from the inputs only.
    bu = model.user_bias(iu, im, ir, zu.size(0), rate_bias)
    predicted = model.mu + rate_bias[tm] + bu[tu] + (model.rate_p(zu) @ model.rate_q(zm).T)[tu, tm]
    rate_loss = F.mse_loss(predicted, tr.float())
    return rank_loss, rate_loss


@torch.no_grad()
def warm_metrics(
    trained_model: Recommender, cache: MovieCache, seen: Ratings, test: Ratings, n_users: int
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
        trained_model.mu
        + cache.rate_bias[test.movie]
        + cache.user_bias[rows]
        + (trained_model.rate_p(cache.users[rows]) * cache.rate_q[test.movie]).sum(1)
    )
    return {
        "rmse": round(evaluation.rmse(predictions.numpy(), test.value), 4),
        **metrics.as_dict(),
    }


def train(
    dataset: Dataset,
    cfg: Config | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    show_bar: bool = False,
) -> TrainedModel:
    """Fit preprocessing and model on every rating in ``dataset``.

    A validation share of each user's ratings is held back for early
    stopping (on validation NDCG@10); the returned model's graph holds all
    ratings, validation included. Deterministic for a given cfg.seed.
    """
    cfg = cfg or Config()
    started = time.perf_counter()
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    users, movies, all_ratings = dataset.users, dataset.movies, dataset.ratings
    preprocessor = Preprocessor.fit(users, movies, use_zip=cfg.use_zip)
    train_part, validation = split_validation(all_ratings, cfg.val_frac, cfg.seed)
    edges = _Edges(train_part, len(users))
    mu = float(train_part.value.mean())
    model = Recommender(
        preprocessor.n_user_features, preprocessor.n_movie_features, len(movies), mu, cfg
    )
    user_x = preprocessor.user_features(users)
    movie_x = preprocessor.movie_features(movies)
    movie_rows = torch.arange(len(movies))

    fixed = {"movie_emb.weight", "rank_bias", "rate_bias"}
    decayed = [p for n, p in model.named_parameters() if n not in fixed]
    plain = [p for n, p in model.named_parameters() if n in fixed]
    optimiser = torch.optim.Adam(
        [
            {"params": decayed, "weight_decay": cfg.weight_decay},
            {"params": plain, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
    )
    best = {"ndcg": -1.0, "step": 0, "state": copy.deepcopy(model.state_dict())}
    history: list[dict] = []
    stale = 0
    bar = _progress_bar(cfg.max_steps, show_bar)
    for step in range(1, cfg.max_steps + 1):
        model.train()
        inputs = _input_mask(edges, cfg, generator)
        out = model(user_x, movie_x, movie_rows, edges.u[inputs], edges.m[inputs], edges.r[inputs])
        rank_loss, rate_loss = _losses(
            model, out, edges, inputs, model.rank_bias, model.rate_bias, cfg
        )
        loss = cfg.rank_weight * rank_loss + cfg.rate_weight * rate_loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if bar is not None:
            bar.update(1)
        if step % cfg.eval_every and step != cfg.max_steps:
            continue
        cache = build_cache(
            model,
            user_x,
            movie_x,
            movie_rows,
            edges.u,
            edges.m,
            edges.r,
        )
        metrics = warm_metrics(model, cache, train_part, validation, len(users))
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
                "state": copy.deepcopy(model.state_dict()),
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
        mu=mu,
        best_step=best["step"],
        seconds=time.perf_counter() - started,
        history=history,
    )


def _progress_bar(total: int, show: bool):
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=" steps", desc="training", leave=False)


def load_model(state_dict: dict, preprocessor: Preprocessor, metadata: dict) -> Recommender:
    """Rebuild a published model; raises ValueError when it does not fit."""
    cfg = Config.from_dict(metadata.get("hyperparameters") or {})
    model = Recommender(
        preprocessor.n_user_features,
        preprocessor.n_movie_features,
        preprocessor.n_known_movies,
        float(metadata.get("mu", 3.5)),
        cfg,
    )
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"the weights do not fit this model: {exc}") from None
    model.eval()
    return model


def predict_pairs(trained: TrainedModel, cache: MovieCache, zu, bu, movie_rows) -> np.ndarray:
    """Predicted ratings for one movie per user row (used by evaluation)."""
    full = predicted_ratings(trained.model, cache, zu, bu)
    return full[torch.arange(len(movie_rows)), torch.as_tensor(movie_rows)].numpy()
