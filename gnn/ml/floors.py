"""The strongest simple methods, fitted on the model's own training data.

Every figure of the model is reported beside these floors, computed on the
same split, so that a weak model shows as weak:

- ``popularity``: how many training ratings of 4 or 5 a movie has;
- ``bias``: global mean + user bias + item bias (rating error, and a ranking
  by item bias);
- ``group_popularity``: popularity among training members of the same gender
  and age bracket, blended with overall popularity (new members only);
- ``ease``: EASE (Steck 2019), a closed-form item-item model. With X the
  training ratings of 4 or 5 as 0/1, G = XᵀX + λI, P = G⁻¹, B = -P / diag(P)
  with a zero diagonal, and a member's scores are their row of X times B. It
  is inductive: a new member's scores are their revealed ratings times B,
  plus β times their group's prior so that a member with few likes still gets a
  sensible list.

Hyperparameters (λ, β, the group smoothing) are chosen on validation data
carved from the training data only: a seeded share of the training ratings
(warm) or of the training users (new members). The evaluated holdout or test
split is never looked at. λ regularises a Gram matrix that grows with the
data, so the λ chosen on the smaller validation fit is scaled up by the share
of the data it saw before the refit on everything.

At any size: the liked matrix is sparse, EASE covers at most the
``ease_movies`` most-rated movies (the model's item-item channel covers the
same ones; the others rank below every covered movie), and scores are made a
block of members at a time (gnn.ml.evaluation.top_k), never as a dense
members x movies matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from gnn.ml import evaluation
from gnn.ml.data import Ratings, Users, remap_users, sample_rows

LAMBDAS = (50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0)
BETAS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
SMOOTHINGS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
VALIDATION_SHARE = 0.2
VALIDATION_SEED = 2024

# Reveals a new member's given ratings: (their ratings) -> (given, rest).
Reveal = Callable[[Ratings], tuple[Ratings, Ratings]]


def liked_matrix(
    users: np.ndarray, items: np.ndarray, values: np.ndarray, shape
) -> sparse.csr_matrix:
    """The 0/1 matrix of ratings of 4 or 5 (rows users, columns items),
    sparse: dense, it would be 38 GB at MovieLens-25M's size."""
    liked = values >= evaluation.RELEVANT_FROM
    ones = np.ones(int(liked.sum()), dtype=np.float32)
    matrix = sparse.csr_matrix((ones, (users[liked], items[liked])), shape=shape)
    matrix.data[:] = 1.0  # a pair given twice is still one like
    return matrix


# The score of a movie EASE does not cover: below every covered one, above
# the excluded ones (-inf).
UNCOVERED = -1e30
GRAM_ROWS = 4096  # members per block of the Gram's sum


class EaseFit:
    """EASE's item-item matrix B for one 0/1 user-item matrix ``X`` over the
    movies ``nodes`` (all when None), for any λ: XᵀX is summed once by
    blocks of members (sparse Xᵀ times a dense block: exact for 0/1 counts),
    and the inverse of XᵀX + λI goes by Cholesky (gnn.ml.network)."""

    def __init__(self, X, nodes: np.ndarray | None = None):
        self.X = sparse.csr_matrix(X, dtype=np.float32)
        n_items = self.X.shape[1]
        self.nodes = np.arange(n_items) if nodes is None else np.asarray(nodes, dtype=np.int64)
        self.every_movie = len(self.nodes) == n_items
        self._gram = None

    def covered(self, rows: sparse.csr_matrix) -> sparse.csr_matrix:
        return rows if self.every_movie else rows[:, self.nodes]

    def gram(self) -> np.ndarray:
        if self._gram is None:
            X = self.covered(self.X)
            gram = np.zeros((len(self.nodes), len(self.nodes)))
            for start in range(0, X.shape[0], GRAM_ROWS):
                block = X[start : start + GRAM_ROWS]
                gram += block.T @ block.toarray()
            self._gram = gram
        return self._gram

    def weights(self, lam: float) -> np.ndarray:
        import torch

        from gnn.ml.network import ease_weights

        return ease_weights(None, lam, torch.from_numpy(self.gram())).numpy()

    def scores(self, rows: sparse.csr_matrix, weights: np.ndarray) -> np.ndarray:
        """Scores of every movie [n, M] for the members whose liked rows these are."""
        part = np.asarray(self.covered(rows) @ weights)
        if self.every_movie:
            return part
        full = np.full((rows.shape[0], rows.shape[1]), UNCOVERED, dtype=part.dtype)
        full[:, self.nodes] = part
        return full

    def scorer(self, X: sparse.csr_matrix, weights: np.ndarray, prior=None, beta: float = 0.0):
        """evaluation.Scores of the rows of ``X``: their folded-in EASE scores,
        plus β times their rows of ``prior`` (a function of (start, stop))."""

        def rows(start: int, stop: int) -> np.ndarray:
            scores = self.scores(X[start:stop], weights)
            return scores + beta * prior(start, stop) if beta else scores

        return rows


def ease_weights(X: np.ndarray, lam: float) -> np.ndarray:
    """EASE's B for ``X`` and one λ."""
    return EaseFit(X).weights(lam)


def _ndcg(scores: evaluation.Scores, exclude, relevant) -> float:
    return evaluation.ranking_metrics(evaluation.top_k(scores, exclude), relevant).ndcg


def _rows_of(table: np.ndarray, keys: np.ndarray):
    """evaluation.Scores of the rows ``keys`` of ``table`` (a group's row per member)."""
    return lambda start, stop: table[keys[start:stop]]


VALIDATION_MEMBERS = 2000  # the members each hyperparameter is tried on, at most


def _split_users(n_users: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_users)
    n_valid = max(1, round(VALIDATION_SHARE * n_users)) if n_users >= 5 else 0
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def normalised_prior(scores: np.ndarray) -> np.ndarray:
    """Group popularity rows scaled to a maximum of 1, so β is scale-free."""
    top = scores.max(axis=1, keepdims=True)
    return scores / np.where(top > 0, top, 1.0)


@dataclass
class Floors:
    """The floors of one training set, with their validated hyperparameters."""

    users: Users
    ratings: Ratings
    n_items: int
    seed: int = VALIDATION_SEED
    ease_movies: int | None = None  # EASE over the most-rated ones only; None: every movie
    popularity: np.ndarray = field(init=False)
    rating_counts: np.ndarray = field(init=False)
    bias: evaluation.BiasModel = field(init=False)
    chosen: dict = field(init=False, default_factory=dict)
    _weights: dict = field(init=False, default_factory=dict, repr=False)
    _group_scores: np.ndarray | None = field(init=False, default=None, repr=False)

    def __post_init__(self):
        r = self.ratings
        self.popularity = evaluation.popularity_scores(r.movie, r.value, self.n_items)
        self.rating_counts = np.bincount(r.movie, minlength=self.n_items).astype(np.float64)
        self.bias = evaluation.BiasModel.fit(
            r.user, r.movie, r.value, len(self.users), self.n_items
        )
        self.groups = evaluation.demographic_groups(self.users.age, self.users.gender)
        self._X = liked_matrix(r.user, r.movie, r.value, (len(self.users), self.n_items))
        self._nodes = None
        if self.ease_movies is not None and self.ease_movies < self.n_items:
            from gnn.ml.channels import most_rated

            self._nodes = most_rated(r, self.n_items, self.ease_movies).numpy()
        self._full = EaseFit(self._X, self._nodes)
        self._train_rows, self._valid_rows = _split_users(len(self.users), self.seed)

    # --- EASE on the whole training set --------------------------------------

    def ease(self, lam: float) -> np.ndarray:
        # One λ at a time: each B is [K x K] (128 MB at 4,000 movies).
        if lam not in self._weights:
            self._weights.clear()
            self._weights[lam] = self._full.weights(lam)
        return self._weights[lam]

    def warm_lambda(self) -> float:
        """λ for members in training: a seeded 20% of the training ratings is
        held back, EASE fitted on the rest, λ chosen by NDCG@10 on it (for a
        fixed sample of at most VALIDATION_MEMBERS members)."""
        if "ease_warm_lambda" not in self.chosen:
            r = self.ratings
            rng = np.random.default_rng(self.seed)
            valid = rng.random(len(r)) < VALIDATION_SHARE
            fit, check = r.take(~valid), r.take(valid)
            n_users = len(self.users)
            X = liked_matrix(fit.user, fit.movie, fit.value, (n_users, self.n_items))
            liked_by = np.unique(check.user[check.value >= evaluation.RELEVANT_FROM])
            users = sample_rows(liked_by, VALIDATION_MEMBERS, self.seed + 1)
            seen = evaluation.items_by_user(fit.user, fit.movie, n_users)
            relevant = evaluation.relevant_items(check.user, check.movie, check.value, n_users)
            exclude = evaluation.Excluded([seen[u] for u in users])
            wanted = [relevant[u] for u in users]
            fitted = EaseFit(X, self._nodes)
            scored = {}
            for lam in LAMBDAS:
                if not len(users):
                    scored[lam] = 0.0
                    continue
                scored[lam] = _ndcg(fitted.scorer(X[users], fitted.weights(lam)), exclude, wanted)
            best = max(LAMBDAS, key=lambda lam: (scored[lam], -lam))
            self.chosen["ease_warm_lambda"] = round(best / (1 - VALIDATION_SHARE), 1)
        return self.chosen["ease_warm_lambda"]

    def ease_warm_scores(self, users: np.ndarray) -> evaluation.Scores:
        return self._full.scorer(self._X[users], self.ease(self.warm_lambda()))

    # --- Popularity in the demographic group ---------------------------------

    def group_smoothing(self) -> float:
        """Smoothing toward overall popularity, chosen on validation users
        (a seeded 20% of the training users, ranked from their group alone)."""
        if "group_smoothing" not in self.chosen:
            train_rows = self._train_rows
            valid_rows = sample_rows(self._valid_rows, VALIDATION_MEMBERS, self.seed + 1)
            r = self.ratings
            in_train = np.isin(r.user, train_rows)
            fit, check = r.take(in_train), r.take(~in_train)
            relevant = evaluation.relevant_items(
                check.user, check.movie, check.value, len(self.users)
            )
            wanted = [relevant[u] for u in valid_rows]
            exclude = [np.empty(0, dtype=np.int64)] * len(valid_rows)
            scored = {}
            for smoothing in SMOOTHINGS:
                if not len(valid_rows):
                    scored[smoothing] = 0.0
                    continue
                scores = evaluation.group_popularity_scores(
                    fit.user, fit.movie, fit.value, self.groups, self.n_items, smoothing=smoothing
                )
                scored[smoothing] = _ndcg(
                    _rows_of(scores, self.groups[valid_rows]), exclude, wanted
                )
            # Ties go to more smoothing: the safer choice for small groups.
            self.chosen["group_smoothing"] = max(SMOOTHINGS, key=lambda s: (scored[s], s))
        return self.chosen["group_smoothing"]

    def group_scores(self, groups: np.ndarray) -> np.ndarray:
        """Scores per demographic group (rows) for the given group ids."""
        if self._group_scores is None:
            r = self.ratings
            every_group = np.r_[self.groups, np.arange(evaluation.N_GROUPS)]
            self._group_scores = evaluation.group_popularity_scores(
                r.user, r.movie, r.value, every_group, self.n_items,
                smoothing=self.group_smoothing(),
            )  # fmt: skip
        return self._group_scores[groups]

    # --- EASE fold-in for new members with a few ratings ----------------------

    def few_shot_choice(self, name: str, reveal: Reveal) -> tuple[float, float]:
        """(λ, β) for new members whose given ratings ``reveal`` picks."""
        self.few_shot_choices({name: reveal})
        choice = self.chosen.get(f"ease_{name}")  # none when nothing is revealed
        return (choice["lambda"], choice["beta"]) if choice else (LAMBDAS[0], BETAS[0])

    def few_shot_choices(self, reveals: dict[str, Reveal]) -> None:
        """(λ, β) for each way of revealing, chosen on validation users: EASE
        fitted on the other training users, each validation user's ratings
        revealed that way, the rest ranked. One fit per λ serves every way
        (each fit inverts an [items x items] matrix)."""
        wanted_names = [name for name in reveals if f"ease_{name}" not in self.chosen]
        if not wanted_names:
            return
        r = self.ratings
        train_rows = self._train_rows
        valid_rows = sample_rows(self._valid_rows, VALIDATION_MEMBERS, self.seed + 1)
        in_train = np.isin(r.user, train_rows)
        fit = r.take(in_train)
        check = r.take(np.isin(r.user, valid_rows))
        n_users, n_valid = len(self.users), len(valid_rows)
        fit_groups_scores = evaluation.group_popularity_scores(
            fit.user, fit.movie, fit.value, self.groups, self.n_items,
            smoothing=self.group_smoothing(),
        )  # fmt: skip
        prior = _rows_of(normalised_prior(fit_groups_scores), self.groups[valid_rows])
        cases = {}
        for name in wanted_names:
            # Revealed by their own rows (a seeded reveal seeds by the row),
            # then renumbered to their place in valid_rows.
            given, rest = (remap_users(part, valid_rows, n_users) for part in reveals[name](check))
            if not len(given):
                continue  # nothing to fold in (a profile alone): EASE has no say
            cases[name] = (
                liked_matrix(given.user, given.movie, given.value, (n_valid, self.n_items)),
                evaluation.Excluded(evaluation.items_by_user(given.user, given.movie, n_valid)),
                evaluation.relevant_items(rest.user, rest.movie, rest.value, n_valid),
            )
        best = {name: (-1.0, LAMBDAS[0], BETAS[0]) for name in cases}
        if n_valid:
            X = liked_matrix(fit.user, fit.movie, fit.value, (n_users, self.n_items))
            fitted = EaseFit(X, self._nodes)
            for lam in LAMBDAS:
                weights = fitted.weights(lam)
                for name, (given_X, exclude, wanted) in cases.items():
                    for beta in BETAS:
                        scores = fitted.scorer(given_X, weights, prior, beta)
                        score = _ndcg(scores, exclude, wanted)
                        # Ties: the smaller λ, then the smaller β (earlier in the grid).
                        if score > best[name][0] + 1e-12:
                            best[name] = (score, lam, beta)
                del weights
        fitted_share = len(train_rows) / max(len(self.users), 1)
        for name, (_, lam, beta) in best.items():
            self.chosen[f"ease_{name}"] = {"lambda": round(lam / fitted_share, 1), "beta": beta}

    def ease_few_shot_scores(
        self, name: str, reveal: Reveal, given: Ratings, groups: np.ndarray, n_held: int
    ) -> evaluation.Scores:
        lam, beta = self.few_shot_choice(name, reveal)
        given_X = liked_matrix(given.user, given.movie, given.value, (n_held, self.n_items))
        table = normalised_prior(self.group_scores(np.arange(evaluation.N_GROUPS)))
        return self._full.scorer(given_X, self.ease(lam), _rows_of(table, groups), beta)
