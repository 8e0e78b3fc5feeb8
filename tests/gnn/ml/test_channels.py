"""The item-item channel restricted to the most-rated movies: the same EASE
as the dense one on those movies, and the same scores in numpy and torch."""

import numpy as np
import torch

from gnn.ml.channels import item_item_gram, most_rated
from gnn.ml.data import Ratings
from gnn.ml.inference import item_item_inputs
from gnn.ml.network import ease_weights


def _ratings(n_users=40, n_movies=12, seed=0) -> Ratings:
    rng = np.random.default_rng(seed)
    pairs = [(u, m) for u in range(n_users) for m in range(n_movies) if rng.random() < 0.2 + m / 30]
    user, movie = (np.array(c) for c in zip(*pairs, strict=True))
    return Ratings(user, movie, rng.integers(1, 6, len(user)), np.arange(len(user)))


def test_the_restricted_channel_is_dense_ease_over_the_most_rated_movies():
    ratings = _ratings()
    nodes = most_rated(ratings, 12, 5)
    counts = np.bincount(ratings.movie, minlength=12)
    assert len(nodes) == 5 and set(nodes.tolist()) == set(np.argsort(-counts, kind="stable")[:5])
    assert most_rated(ratings, 12, 50).tolist() == list(range(12))  # fewer movies: all

    dense = item_item_inputs(
        torch.as_tensor(ratings.user), torch.as_tensor(ratings.movie),
        torch.as_tensor(ratings.value), 40, 12,
    )[:, nodes]  # fmt: skip
    gram = item_item_gram(ratings, 40, nodes, 12, block=7)  # blocks that split the members
    torch.testing.assert_close(gram, dense.double().T @ dense.double())
    torch.testing.assert_close(ease_weights(None, 3.0, gram), ease_weights(dense, 3.0))
    everything = item_item_gram(ratings, 40, torch.arange(12), 12)
    full = item_item_inputs(
        torch.as_tensor(ratings.user), torch.as_tensor(ratings.movie),
        torch.as_tensor(ratings.value), 40, 12,
    )  # fmt: skip
    torch.testing.assert_close(ease_weights(None, 3.0, everything), ease_weights(full, 3.0))
