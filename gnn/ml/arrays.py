"""The member side of the model in plain numpy, over published arrays.

Serving needs no graph library and no torch: the process that trains (or
refreshes) computes every movie's states with the final weights, the
per-rating-value messages a member's embedding sums, the small dense layers
and the biases, and publishes them as one ``.npz``
(gnn.ml.inference.serving_arrays writes it). A request then costs a sum over
the member's rated movies per layer, a few small matrix products and one
score per movie. numpy only: an import-linter contract keeps torch out of
every module a web process imports.

The arithmetic is the eval-mode forward pass of gnn.ml.network.Recommender
for one user (tests/gnn/ml/test_arrays.py holds them equal to 1e-5).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

FORMAT = 2  # the layout of the arrays below; bump when it changes (2: the prior's 4th group)

N_RATINGS = 5  # rating values 1..5; an edge's type is value - 1
BASE_USER_SHRINK = 10.0  # ridge strength of a user's offset in the baseline
MAX_AGE = 120
# The demographic prior's groups. A member who did not say (or an unknown
# value) is group 3, everyone of that age: not "Other", which is a group of
# its own people.
GENDER_CODES = {"M": 0, "F": 1, "O": 2}
UNKNOWN_GENDER_CODE = 3
N_GENDER_GROUPS = 4
N_PRIOR_KEYS = N_GENDER_GROUPS * (MAX_AGE + 1)

MATRICES = (
    "movie_ids", "messages1", "messages2", "movies", "rate_q", "rank_bias", "rate_bias",
    "base_bias", "ease", "ease_nodes", "prior", "user_in1_w", "user_in1_b", "user_in2_w",
    "user_in2_b", "root1_w", "root1_b", "root2_w", "root2_b", "rate_p",
)  # fmt: skip
SCALARS = (
    "mu", "ease_scale", "ease_half", "prior_scale", "prior_half", "norm_power",
    "resid_power", "bias_shrink", "centred", "age_mean",
)  # fmt: skip


def prior_keys(ages, genders, age_fallback: float) -> np.ndarray:
    """The demographic prior's row for each member: gender x age in years."""
    ages = np.asarray(ages, dtype=np.float64)
    ages = np.where(np.isnan(ages), age_fallback, ages)
    years = np.clip(np.rint(ages), 0, MAX_AGE).astype(np.int64)
    codes = np.array([GENDER_CODES.get(g, UNKNOWN_GENDER_CODE) for g in genders], dtype=np.int64)
    return codes * (MAX_AGE + 1) + years


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


@dataclass(frozen=True)
class ServingArrays:
    """Everything in movie-row order (row i is ``movie_ids[i]``)."""

    movie_ids: np.ndarray  # [M] int64, Movie pk per row
    messages1: np.ndarray  # [M, T, d]: what a movie sends a user per rating type, layer 1
    messages2: np.ndarray  # [M, T, d]: layer 2
    movies: np.ndarray  # [M, d] final movie embeddings
    rate_q: np.ndarray  # [M, d] Q z_m
    rank_bias: np.ndarray  # [M]
    rate_bias: np.ndarray  # [M]
    base_bias: np.ndarray  # [M] the centred channel's baseline
    ease: np.ndarray  # [K, K] item-item weights between the rows it covers, or [0, 0]
    ease_nodes: np.ndarray  # [K] int64, those rows (the most-rated movies)
    prior: np.ndarray  # [keys, M] demographic prior, or [0, M]
    user_in1_w: np.ndarray  # the user input layers (torch Linear layout: [out, in])
    user_in1_b: np.ndarray
    user_in2_w: np.ndarray
    user_in2_b: np.ndarray
    root1_w: np.ndarray  # each layer's root weight on the user's own state
    root1_b: np.ndarray
    root2_w: np.ndarray
    root2_b: np.ndarray
    rate_p: np.ndarray  # [d, d] P of the rating head
    mu: float
    ease_scale: float
    ease_half: float
    prior_scale: float
    prior_half: float
    norm_power: float
    resid_power: float
    bias_shrink: float
    centred: bool
    age_mean: float

    @classmethod
    def from_mapping(cls, data) -> ServingArrays:
        """From a dict or an NpzFile; ValueError naming what is missing or
        inconsistent (the file is data: it may be truncated or foreign)."""
        data = dict(data)
        if "ease_nodes" not in data and "ease" in data:
            # Arrays from before the channel could be restricted cover every movie.
            data["ease_nodes"] = np.arange(len(np.asarray(data["ease"])), dtype=np.int64)
        missing = [name for name in (*MATRICES, *SCALARS, "format") if name not in data]
        if missing:
            raise ValueError(f"the serving arrays lack {', '.join(missing)}")
        if int(np.asarray(data["format"])) != FORMAT:
            raise ValueError(f"serving arrays of format {int(data['format'])}, not {FORMAT}")
        values = {name: np.asarray(data[name]) for name in MATRICES}
        values.update({name: float(np.asarray(data[name])) for name in SCALARS})
        values["centred"] = bool(values["centred"])
        arrays = cls(**values)
        arrays.check()
        return arrays

    def as_mapping(self) -> dict[str, np.ndarray]:
        data = {name: getattr(self, name) for name in MATRICES}
        data.update({name: np.asarray(float(getattr(self, name))) for name in SCALARS})
        data["format"] = np.asarray(FORMAT)
        return data

    def check(self) -> None:
        m = len(self.movie_ids)
        d = self.movies.shape[1] if self.movies.ndim == 2 else -1
        shapes = {
            "messages1": (m, None, d), "messages2": (m, None, d), "movies": (m, d),
            "rate_q": (m, d), "rank_bias": (m,), "rate_bias": (m,), "base_bias": (m,),
        }  # fmt: skip
        for name, shape in shapes.items():
            actual = getattr(self, name).shape
            if len(actual) != len(shape) or any(
                want is not None and got != want for got, want in zip(actual, shape, strict=True)
            ):
                raise ValueError(f"serving array {name} has shape {actual} for {m} movies")
        k = len(self.ease_nodes)
        if self.ease.size and (self.ease.shape != (k, k) or k > m):
            raise ValueError(f"serving array ease has shape {self.ease.shape} for {m} movies")
        if k and (self.ease_nodes.min() < 0 or self.ease_nodes.max() >= m):
            raise ValueError("serving array ease_nodes names rows outside the movies")
        if self.prior.size and self.prior.shape[1] != m:
            raise ValueError(f"serving array prior has shape {self.prior.shape} for {m} movies")

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in MATRICES)

    # --- one member -----------------------------------------------------------

    def embed(self, user_x: np.ndarray, rows: np.ndarray, values: np.ndarray):
        """One member's embedding [d] and rating bias from their features
        [F] and their ratings (movie rows, values 1..5)."""
        k = len(rows)
        mean_weight = float(max(k, 1)) ** -self.norm_power
        types = values - 1
        weights = None
        if self.centred and k:
            residual = values.astype(np.float32) - np.float32(self.mu) - self.base_bias[rows]
            residual = residual - residual.sum() / np.float32(k + BASE_USER_SHRINK)
            weights = residual * np.float32(float(k) ** -self.resid_power)

        def aggregate(messages):
            total = messages[rows, types].sum(0) * np.float32(mean_weight)
            if weights is not None:
                total = total + weights @ messages[rows, N_RATINGS]
            return total

        x = np.asarray(user_x, dtype=np.float32)
        u0 = _relu(x @ self.user_in1_w.T + self.user_in1_b) @ self.user_in2_w.T + self.user_in2_b
        u1 = _relu(aggregate(self.messages1) + u0 @ self.root1_w.T + self.root1_b)
        zu = aggregate(self.messages2) + u1 @ self.root2_w.T + self.root2_b
        residual = values.astype(np.float32) - np.float32(self.mu) - self.rate_bias[rows]
        bu = float(residual.sum()) / (k + self.bias_shrink)
        return zu.astype(np.float32), bu

    def item_item(self, rows: np.ndarray, values: np.ndarray) -> np.ndarray | None:
        """The item-item channel [M]: the member's ratings' rows of the
        weights, weighted scale * n / (n + half)."""
        if not self.ease.size or self.ease_scale == 0:
            return None
        n = len(rows)
        weight = self.ease_scale * n / max(n + self.ease_half, 1e-9)
        covered = self._ease_position[rows]
        keep = covered >= 0
        inputs = values[keep].astype(np.float32) / np.float32(5.0)
        if 4 * len(inputs) > len(self.ease_nodes):
            # A long history: one product with the whole matrix beats copying
            # most of its rows out first (the slowest requests otherwise).
            dense = np.zeros(len(self.ease_nodes), dtype=np.float32)
            np.add.at(dense, covered[keep], inputs)
            part = dense @ self.ease
        else:
            part = inputs @ self.ease[covered[keep]]
        if len(self.ease_nodes) == len(self.movie_ids):
            return np.float32(weight) * part
        total = np.zeros(len(self.movie_ids), dtype=np.float32)
        total[self.ease_nodes] = part
        return np.float32(weight) * total

    @cached_property
    def _ease_position(self) -> np.ndarray:
        position = np.full(len(self.movie_ids), -1, dtype=np.int64)
        position[self.ease_nodes] = np.arange(len(self.ease_nodes))
        return position

    def prior_row(self, key: int, n_ratings: int) -> np.ndarray | None:
        """The demographic prior [M] of the member's group, weighted
        scale * half / (n + half) so that their own ratings take over."""
        if not self.prior.size or self.prior_scale == 0:
            return None
        weight = self.prior_scale * self.prior_half / (n_ratings + self.prior_half)
        return np.float32(weight) * self.prior[key]

    def scores(self, user_x, rows, values, key: int) -> tuple[np.ndarray, np.ndarray, float]:
        """(ranking score of every movie [M], embedding, rating bias)."""
        zu, bu = self.embed(user_x, rows, values)
        scores = self.movies @ zu + self.rank_bias
        for part in (self.item_item(rows, values), self.prior_row(key, len(rows))):
            if part is not None:
                scores = scores + part
        return scores, zu, bu

    def predicted_ratings(self, zu: np.ndarray, bu: float, rows: np.ndarray) -> np.ndarray:
        """Predicted ratings of the given movie rows, clipped to 1..5."""
        interaction = self.rate_q[rows] @ (self.rate_p @ zu)
        raw = np.float32(self.mu) + self.rate_bias[rows] + np.float32(bu) + interaction
        return np.clip(raw, 1.0, 5.0)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)
