"""The GraphSAGE recommender: plain PyTorch / PyTorch Geometric, no Django.

Users and movies are the two node types of a bipartite graph with one edge
per rating, used in both directions. Two SAGE layers per direction, 64-dim.

Why not PyG's SAGEConv as is: its mean aggregation treats a 1-star and a
5-star neighbour alike, and what a rating says matters (MODEL_NOTES 4). Each
layer here is SAGEConv's ``W_root x_i + mean_j W x_j`` with the neighbour
weight chosen by the edge's rating (one matrix per value 1..5), written as a
PyG MessagePassing layer over a typed sparse adjacency.

Inductive for users: no per-user parameters. A user's layer-1 state reads
only movie layer-0 states, and their final embedding only movie layer-1
states, so a new user (or a new rating) is served from cached movie states
without retraining. Movies have learned id embeddings (the catalogue is
curated); a movie added after training falls back to its features plus the
mean embedding.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import MessagePassing

N_RATINGS = 5  # rating values 1..5; an edge's type is value - 1

# torch flags all CSR use as beta; the product is what it is used for here.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")


@dataclass
class Config:
    dim: int = 64
    dropout: float = 0.3
    user_drop: float = 0.3  # dropout on raw demographics (see Recommender.user_h0)
    use_zip: bool = False
    norm_power: float = 1.0  # neighbour weight deg**-p; 1 is SAGE's mean
    # training
    lr: float = 5e-3
    weight_decay: float = 0.0
    max_steps: int = 600
    eval_every: int = 20
    patience: int = 10  # evaluations without improvement before stopping
    val_frac: float = 0.05  # share of each user's ratings kept for validation
    target_frac: float = 0.2  # share of an ordinary user's edges used as targets
    fewshot_share: float = 0.5  # share of users reduced to their k earliest edges
    fewshot_ks: tuple = (0, 1, 3, 5, 10)
    rank_weight: float = 1.0
    rate_weight: float = 1.0
    rank_pos_min: int = 4  # ranking positives: target ratings of at least this
    bias_shrink: float = 5.0  # user bias = sum(residuals) / (n + shrink)
    seed: int = 0

    def as_dict(self) -> dict:
        data = asdict(self)
        data["fewshot_ks"] = list(self.fewshot_ks)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "fewshot_ks" in values:
            values["fewshot_ks"] = tuple(values["fewshot_ks"])
        return cls(**values)


def typed_adjacency(
    src: torch.Tensor, dst: torch.Tensor, rating: torch.Tensor, n_src: int, n_dst: int, power: float
) -> torch.Tensor:
    """Sparse [n_dst, n_src * 5]: row i holds deg_i**-power at column
    5 * j + (r_ij - 1) for each edge j -> i."""
    degree = torch.zeros(n_dst).index_add_(0, dst, torch.ones(len(dst)))
    weight = degree.clamp(min=1).pow(-power)[dst]
    index = torch.stack([dst, src * N_RATINGS + (rating - 1)])
    adjacency = torch.sparse_coo_tensor(
        index, weight, (n_dst, n_src * N_RATINGS), check_invariants=False
    )
    return adjacency.coalesce().to_sparse_csr()


class RatingSAGEConv(MessagePassing):
    """out_i = W_root x_i + b + sum_j deg_i**-p W_{r_ij} x_j.

    The per-rating transform is applied to the sources first (n_src x 5
    rows), then aggregated by one sparse product with the typed adjacency:
    several times faster on CPU than gathering a message per edge.
    """

    def __init__(self, in_src: int, in_dst: int, out: int):
        super().__init__(aggr="sum")
        self.out = out
        self.weight = nn.Parameter(torch.empty(N_RATINGS, in_src, out))
        nn.init.xavier_uniform_(self.weight.view(N_RATINGS * in_src, out))
        self.lin_root = nn.Linear(in_dst, out)

    def source_messages(self, x_src: torch.Tensor) -> torch.Tensor:
        """Every source's message for each rating value: [n_src, 5, out]."""
        stacked = self.weight.permute(1, 0, 2).reshape(x_src.size(1), N_RATINGS * self.out)
        return (x_src @ stacked).view(x_src.size(0), N_RATINGS, self.out)

    def forward(self, x_src: torch.Tensor, x_dst: torch.Tensor, adjacency: torch.Tensor):
        messages = self.source_messages(x_src).view(x_src.size(0) * N_RATINGS, self.out)
        return self.propagate(adjacency, x=(messages, None)) + self.lin_root(x_dst)

    def message_and_aggregate(self, adj_t, x):
        return torch.sparse.mm(adj_t, x[0])


class Recommender(nn.Module):
    """Two outputs from the final embeddings z_u, z_m:

    ranking score    s(u, m) = z_u . z_m + rank_bias[m]
        trained with a softmax over the whole catalogue (ranking, not error);
    predicted rating r(u, m) = mu + rate_bias[m] + b_u + (P z_u) . (Q z_m)
        trained on squared error; b_u is the shrunk mean residual of the
        user's own ratings, computed at serving time (inductive).
    """

    def __init__(
        self, n_user_features: int, n_movie_features: int, n_movies: int, mu: float, cfg: Config
    ):
        super().__init__()
        d = cfg.dim
        self.cfg = cfg
        self.register_buffer("mu", torch.tensor(float(mu)))
        self.user_in = nn.Sequential(nn.Linear(n_user_features, d), nn.ReLU(), nn.Linear(d, d))
        self.movie_in = nn.Linear(n_movie_features, d)
        self.movie_emb = nn.Embedding(n_movies, d)
        nn.init.normal_(self.movie_emb.weight, std=0.1)
        self.conv1_mu = RatingSAGEConv(d, d, d)  # movie -> user
        self.conv1_um = RatingSAGEConv(d, d, d)  # user -> movie
        self.conv2_mu = RatingSAGEConv(d, d, d)
        self.conv2_um = RatingSAGEConv(d, d, d)
        self.rank_bias = nn.Parameter(torch.zeros(n_movies))
        self.rate_bias = nn.Parameter(torch.zeros(n_movies))
        self.rate_p = nn.Linear(d, d, bias=False)
        self.rate_q = nn.Linear(d, d, bias=False)
        nn.init.normal_(self.rate_p.weight, std=0.02)
        nn.init.normal_(self.rate_q.weight, std=0.02)
        self.drop = nn.Dropout(cfg.dropout)

    # --- per-movie parameters, with a fallback for movies added later ------

    def _per_movie(self, table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        known = rows >= 0
        if bool(known.all()):
            return table[rows]
        fallback = table.mean(0, keepdim=table.dim() > 1)
        return torch.where(
            known.view(-1, *([1] * (table.dim() - 1))), table[rows.clamp(min=0)], fallback
        )

    def movie_h0(self, movie_x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return self.movie_in(movie_x) + self._per_movie(self.movie_emb.weight, rows)

    def movie_biases(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._per_movie(self.rank_bias, rows), self._per_movie(self.rate_bias, rows)

    def user_h0(self, user_x: torch.Tensor) -> torch.Tensor:
        # Dropping raw demographics in training keeps the model from
        # recognising individual training users by their feature combination.
        return self.user_in(F.dropout(user_x, self.cfg.user_drop, self.training))

    # --- layers -----------------------------------------------------------

    def adjacencies(self, ui, mi, r, n_users: int, n_movies: int):
        p = self.cfg.norm_power
        movie_to_user = typed_adjacency(mi, ui, r, n_movies, n_users, p)
        user_to_movie = typed_adjacency(ui, mi, r, n_users, n_movies, p)
        return movie_to_user, user_to_movie

    def user_layers(self, user_x, m0, m1, movie_to_user):
        """User embeddings from their features and movie states of layers 0
        and 1: all a new user needs."""
        u0 = self.user_h0(user_x)
        u1 = F.relu(self.conv1_mu(self.drop(m0), self.drop(u0), movie_to_user))
        return self.conv2_mu(self.drop(m1), self.drop(u1), movie_to_user)

    def forward(self, user_x, movie_x, movie_rows, ui, mi, r) -> dict[str, torch.Tensor]:
        """Full-graph pass over the edges (user row, movie row, rating)."""
        movie_to_user, user_to_movie = self.adjacencies(ui, mi, r, user_x.size(0), movie_x.size(0))
        u0 = self.user_h0(user_x)
        m0 = self.movie_h0(movie_x, movie_rows)
        m1 = F.relu(self.conv1_um(self.drop(u0), self.drop(m0), user_to_movie))
        u1 = F.relu(self.conv1_mu(self.drop(m0), self.drop(u0), movie_to_user))
        m2 = self.conv2_um(self.drop(u1), self.drop(m1), user_to_movie)
        u2 = self.conv2_mu(self.drop(m1), self.drop(u1), movie_to_user)
        return {"u": u2, "m0": m0, "m1": m1, "m": m2}

    # --- heads ------------------------------------------------------------

    def user_bias(self, ui, mi, r, n_users: int, rate_bias: torch.Tensor) -> torch.Tensor:
        residual = r.float() - self.mu - rate_bias[mi]
        total = torch.zeros(n_users).index_add_(0, ui, residual)
        count = torch.zeros(n_users).index_add_(0, ui, torch.ones_like(residual))
        return total / (count + self.cfg.bias_shrink)

    def rank_scores(self, zu, zm, rank_bias) -> torch.Tensor:
        return zu @ zm.T + rank_bias

    def ratings(self, zu, zm, bu, rate_bias) -> torch.Tensor:
        """Predicted ratings for every (user, movie) pair of the inputs."""
        return self.mu + rate_bias[None] + bu[:, None] + self.rate_p(zu) @ self.rate_q(zm).T
