"""Metrics and the floors every figure is reported beside.

Pure functions over numpy arrays: no Django, no torch. Items and users are
dense indices (0..n-1).

Ranking protocol (full ranking): for each evaluated user, every item except
the excluded ones (those rated in training, or revealed at serving time) is
ranked by score; relevant = held-out items rated 4 or 5; metrics are averaged
over users with at least one relevant item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

RELEVANT_FROM = 4
K = 10


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error, predictions clipped to the 1-5 scale first."""
    predicted = np.clip(np.asarray(predicted, dtype=np.float64), 1.0, 5.0)
    actual = np.asarray(actual, dtype=np.float64)
    if predicted.shape != actual.shape or predicted.size == 0:
        raise ValueError("rmse needs two non-empty arrays of the same shape")
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


class Excluded:
    """The (row, item) pairs a ranking must skip, flattened once: the same
    members are ranked many times while hyperparameters are chosen."""

    def __init__(self, exclude: Sequence[np.ndarray]):
        self.n_rows = len(exclude)
        lengths = np.fromiter((len(items) for items in exclude), dtype=np.int64, count=self.n_rows)
        self.rows = np.repeat(np.arange(self.n_rows), lengths)
        self.cols = (
            np.concatenate([np.asarray(items, dtype=np.int64) for items in exclude])
            if lengths.sum()
            else np.empty(0, dtype=np.int64)
        )

    @classmethod
    def of(cls, exclude: Excluded | Sequence[np.ndarray]) -> Excluded:
        return exclude if isinstance(exclude, Excluded) else cls(exclude)

    def window(self, start: int, stop: int) -> Excluded:
        """Rows start..stop, renumbered from 0 (rows are kept in order)."""
        lo, hi = np.searchsorted(self.rows, [start, stop])
        part = Excluded(())
        part.n_rows, part.rows, part.cols = stop - start, self.rows[lo:hi] - start, self.cols[lo:hi]
        return part


# Rows ranked at a time: a block of scores is rows x movies (about 240 MB at
# 59,047 movies), never every evaluated member's at once.
ROWS_PER_BLOCK = 1024

# A [rows, items] score matrix, or a function of (start, stop) giving those
# rows of one: the rows are then only ever made a block at a time.
Scores = np.ndarray | Callable[[int, int], np.ndarray]


def top_k(scores: Scores, exclude: Excluded | Sequence[np.ndarray], k: int = K) -> np.ndarray:
    """Indices of the k best items per row, best first, excluded items never chosen.

    One row per entry of ``exclude``; ``scores`` made and ranked a block of
    rows at a time (ROWS_PER_BLOCK). Ties are broken by the lower item index
    so results are deterministic. Vectorised within a block: no Python loop
    over rows (a million-rating evaluation ranks thousands of members many
    times).
    """
    excluded = Excluded.of(exclude)
    parts = []
    for start in range(0, excluded.n_rows, ROWS_PER_BLOCK):
        stop = min(start + ROWS_PER_BLOCK, excluded.n_rows)
        block = scores(start, stop) if callable(scores) else scores[start:stop]
        parts.append(_top_k_block(block, excluded.window(start, stop), k))
    return np.concatenate(parts) if parts else np.empty((0, k), dtype=np.int64)


def _top_k_block(scores: np.ndarray, excluded: Excluded, k: int) -> np.ndarray:
    scores = np.array(scores, dtype=np.result_type(np.asarray(scores).dtype, np.float32))
    if len(excluded.cols):
        scores[excluded.rows, excluded.cols] = -np.inf
    n_rows, n_items = scores.shape
    k = min(k, n_items)
    if k == 0 or n_rows == 0:
        return np.empty((n_rows, k), dtype=np.int64)
    # The k-th best value per row, then every item at least that good (about
    # k per row), sorted by score, ties by the lower index; the first k kept.
    kth = np.partition(scores, n_items - k, axis=1)[:, n_items - k]
    rows, cols = np.nonzero(scores >= kth[:, None])
    order = np.lexsort((cols, -scores[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    place = np.arange(len(rows)) - np.searchsorted(rows, np.arange(n_rows))[rows]
    return cols[place < k].reshape(n_rows, k)


@dataclass(frozen=True)
class RankingMetrics:
    precision: float
    recall: float
    ndcg: float
    users: int

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {
            f"{prefix}precision_at_10": round(self.precision, 4),
            f"{prefix}recall_at_10": round(self.recall, 4),
            f"{prefix}ndcg_at_10": round(self.ndcg, 4),
            f"{prefix}users": self.users,
        }


def ranking_metrics(
    ranked: np.ndarray, relevant: Sequence[np.ndarray], k: int = K
) -> RankingMetrics:
    """Precision@k, Recall@k and binary NDCG@k of ranked lists.

    ``ranked[u]`` lists item indices best first; ``relevant[u]`` the items
    that count as hits. Users with no relevant item are skipped. Vectorised
    over users: hyperparameter searches call it hundreds of times.
    """
    n_rows = len(relevant)
    top = np.asarray(ranked, dtype=np.int64).reshape(n_rows, -1)[:, :k]
    lengths = np.fromiter((len(items) for items in relevant), dtype=np.int64, count=n_rows)
    if not lengths.sum():
        return RankingMetrics(0.0, 0.0, 0.0, 0)
    items = np.concatenate([np.asarray(items, dtype=np.int64) for items in relevant])
    width = int(max(items.max(), top.max(initial=0))) + 1
    # Each (user, item) pair as one integer: membership is one sorted search.
    wanted = np.unique(np.repeat(np.arange(n_rows), lengths) * width + items)
    n_wanted = np.bincount(wanted // width, minlength=n_rows)
    hits = np.isin(np.arange(n_rows)[:, None] * width + top, wanted, assume_unique=True)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    counted = n_wanted > 0
    n_hits = hits.sum(1)[counted]
    dcg = (hits * discounts[: top.shape[1]]).sum(1)[counted]
    ideal = np.cumsum(discounts)[np.minimum(n_wanted[counted], k) - 1]
    return RankingMetrics(
        float(np.mean(n_hits / k)),
        float(np.mean(n_hits / n_wanted[counted])),
        float(np.mean(dcg / ideal)),
        int(counted.sum()),
    )


# --- Beyond accuracy ------------------------------------------------------------


def coverage(ranked: np.ndarray, n_items: int) -> float:
    """Distinct items in all the lists, as a share of the catalogue."""
    return float(len(np.unique(np.asarray(ranked).ravel())) / n_items) if n_items else 0.0


def popularity_ranks(rating_counts: np.ndarray) -> np.ndarray:
    """Each item's rank by training rating count: 1 = most rated (ties by index)."""
    order = np.argsort(-np.asarray(rating_counts, dtype=np.float64), kind="stable")
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def mean_popularity_rank(ranked: np.ndarray, rating_counts: np.ndarray) -> float:
    """The mean, over every recommended slot, of the item's popularity rank."""
    ranked = np.asarray(ranked)
    return float(popularity_ranks(rating_counts)[ranked].mean()) if ranked.size else 0.0


PERSONALISATION_PAIRS = 2000
PERSONALISATION_SEED = 0


def personalisation(
    ranked: np.ndarray, pairs: int = PERSONALISATION_PAIRS, seed: int = PERSONALISATION_SEED
) -> float:
    """1 - the mean Jaccard overlap of two users' lists, over seeded random
    pairs of distinct users: 0 when everyone gets the same list."""
    ranked = np.asarray(ranked)
    n = len(ranked)
    if n < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, size=pairs)
    second = (first + rng.integers(1, n, size=pairs)) % n  # never the same user
    overlaps = []
    for a, b in zip(first.tolist(), second.tolist(), strict=True):
        left, right = set(ranked[a].tolist()), set(ranked[b].tolist())
        union = len(left | right)
        overlaps.append(len(left & right) / union if union else 1.0)
    return float(1.0 - np.mean(overlaps))


def beyond_accuracy(ranked: np.ndarray, rating_counts: np.ndarray) -> dict[str, float]:
    return {
        "coverage_at_10": round(coverage(ranked, len(rating_counts)), 4),
        "mean_popularity_rank": round(mean_popularity_rank(ranked, rating_counts), 1),
        "personalisation": round(personalisation(ranked), 4),
    }


def relevant_items(
    users: np.ndarray, items: np.ndarray, values: np.ndarray, n_users: int
) -> list[np.ndarray]:
    """Per user, the items rated 4 or 5 among the given ratings."""
    liked = values >= RELEVANT_FROM
    return items_by_user(users[liked], items[liked], n_users)


def items_by_user(users: np.ndarray, items: np.ndarray, n_users: int) -> list[np.ndarray]:
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    bounds = np.searchsorted(users, np.arange(n_users + 1))
    return [items[bounds[u] : bounds[u + 1]] for u in range(n_users)]


# --- Floors -------------------------------------------------------------------


def popularity_scores(items: np.ndarray, values: np.ndarray, n_items: int) -> np.ndarray:
    """How many training ratings of 4 or 5 each item has."""
    return np.bincount(items[values >= RELEVANT_FROM], minlength=n_items).astype(np.float64)


@dataclass
class BiasModel:
    """Global mean + user bias + item bias, fitted by regularised alternating
    least squares (the baseline of Koren 2010 and Surprise's BaselineOnly)."""

    mean: float
    user_bias: np.ndarray
    item_bias: np.ndarray

    @classmethod
    def fit(
        cls,
        users: np.ndarray,
        items: np.ndarray,
        values: np.ndarray,
        n_users: int,
        n_items: int,
        *,
        reg_user: float = 15.0,
        reg_item: float = 10.0,
        iterations: int = 10,
    ) -> BiasModel:
        values = values.astype(np.float64)
        mean = float(values.mean())
        user_bias = np.zeros(n_users)
        item_bias = np.zeros(n_items)
        user_count = np.bincount(users, minlength=n_users)
        item_count = np.bincount(items, minlength=n_items)
        for _ in range(iterations):
            residual = values - mean - user_bias[users]
            item_bias = np.bincount(items, residual, minlength=n_items) / (reg_item + item_count)
            residual = values - mean - item_bias[items]
            user_bias = np.bincount(users, residual, minlength=n_users) / (reg_user + user_count)
        return cls(mean, user_bias, item_bias)

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.mean + self.user_bias[users] + self.item_bias[items]

    def user_bias_from(
        self, items: np.ndarray, values: np.ndarray, reg_user: float = 15.0
    ) -> float:
        """A new user's bias from the ratings they have given, shrunk towards 0."""
        if len(items) == 0:
            return 0.0
        residual = values - self.mean - self.item_bias[items]
        return float(residual.sum() / (reg_user + len(items)))


AGE_BRACKETS = (18, 25, 35, 45, 55)
N_GROUPS = 3 * (len(AGE_BRACKETS) + 1)  # genders M, F, other, by age bracket


def demographic_groups(ages: np.ndarray, genders: Sequence[str]) -> np.ndarray:
    """Group id from gender and age bracket (under 18, 18-24, 25-34, 35-44, 45-54, 55+)."""
    brackets = np.digitize(np.asarray(ages, dtype=np.float64), AGE_BRACKETS)
    gender_code = np.array([{"M": 0, "F": 1}.get(g, 2) for g in genders], dtype=np.int64)
    return gender_code * (len(AGE_BRACKETS) + 1) + brackets


def group_popularity_scores(
    train_users: np.ndarray,
    train_items: np.ndarray,
    train_values: np.ndarray,
    user_groups: np.ndarray,
    n_items: int,
    *,
    smoothing: float = 1.0,
) -> np.ndarray:
    """Per demographic group, popularity among that group's training users,
    blended with overall popularity so that small groups fall back to it.

    Returns an array (number of groups, n_items); row g scores items for group g.
    """
    liked = train_values >= RELEVANT_FROM
    overall = np.bincount(train_items[liked], minlength=n_items).astype(np.float64)
    overall /= max(overall.sum(), 1.0)
    n_groups = int(user_groups.max()) + 1 if len(user_groups) else 1
    scores = np.zeros((n_groups, n_items))
    groups_of_ratings = user_groups[train_users[liked]]
    for group in range(n_groups):
        counts = np.bincount(train_items[liked][groups_of_ratings == group], minlength=n_items)
        total = counts.sum()
        weight = total / (total + smoothing * n_items) if total else 0.0
        share = counts / total if total else np.zeros(n_items)
        scores[group] = weight * share + (1 - weight) * overall
    return scores
