"""The GraphSAGE recommender: plain PyTorch / PyTorch Geometric, no Django.

Users and movies are the two node types of a bipartite graph with one edge
per rating, used in both directions. Two SAGE layers per direction, 64-dim.

Why not PyG's SAGEConv as is: its mean aggregation treats a 1-star and a
5-star neighbour alike, and what a rating says matters. Each
layer here is SAGEConv's ``W_root x_i + mean_j W x_j`` with the neighbour
weight chosen by the edge's rating (one matrix per value 1..5), plus a
"centred rating" channel: neighbours weighted by how much the rating beats a
baseline (asymmetric-SVD-like), scaled by deg**-1/2 so that more evidence
gives a larger vector. That channel took u1 RMSE from 0.914 to 0.902. The
layer is a PyG MessagePassing whose aggregation is one sparse product over a
"typed" adjacency (messages transformed per rating type first): several
times faster on CPU than a message per edge.

Inductive for users: no per-user parameters. A user's layer-1 state reads
only movie layer-0 states and their final embedding only movie layer-1
states, so a new user, or a new rating, is served from cached movie states
without retraining. Movies have learned id embeddings and biases (the
catalogue is curated); a movie added after training falls back to its
features and the mean embedding and biases.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import MessagePassing

from gnn.ml.arrays import (  # re-exported: the network's vocabulary
    BASE_USER_SHRINK,
    GENDER_CODES,
    MAX_AGE,
    N_GENDER_GROUPS,
    N_PRIOR_KEYS,
    N_RATINGS,
    UNKNOWN_GENDER_CODE,
    prior_keys,
)

# torch flags all CSR use as beta; the product is what it is used for here.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")


@dataclass
class Config:
    dim: int = 64
    dropout: float = 0.2  # 0.3 gave more margin for new members but W RMSE 0.904-0.905
    user_drop: float = 0.3  # dropout on raw demographics (see Recommender.user_h0)
    use_zip: bool = True  # coarse zip region as a user feature
    norm_power: float = 1.0  # neighbour weight deg**-p; 1 is SAGE's mean
    centred: bool = True  # the centred-rating channel
    resid_power: float = 0.5  # its normalisation deg**-q, user side
    resid_power_movie: float = 0.5  # ... movie side
    # training
    lr: float = 0.01
    init_biases: bool = True  # movie biases start at the baseline / log-popularity
    max_steps: int = 600
    eval_every: int = 30
    # Checks without a better validation NDCG before stopping. On MovieLens
    # 100K the curve climbs to the last steps and never stalls for 4 checks;
    # at a million ratings it peaks within the first few hundred steps and only
    # falls after: the steps after the peak are wasted there.
    patience: int = 5
    min_delta: float = 0.001  # the validation NDCG gain that counts as progress
    val_frac: float = 0.05  # share of each user's ratings kept for validation
    # Validation members watched (a fixed sample beyond this): early stopping
    # and every choice of the channels rank the whole catalogue for each, and
    # beyond a thousand the choices hardly move.
    eval_members: int = 1000
    target_frac: float = 0.2  # share of an ordinary user's edges used as targets
    fewshot_share: float = 0.6  # share of users reduced to their k earliest edges
    fewshot_ks: tuple = (0, 1, 3, 5, 10)
    fewshot_balance: float = 1.0  # few-shot users weigh as much as ordinary ones
    fewshot_rate_weight: float = 0.5  # and half that again in the rating loss
    rank_weight: float = 1.0
    rate_weight: float = 1.0
    rank_pos_min: int = 4  # ranking positives: target ratings of at least this
    bias_shrink: float = 5.0  # user bias = sum(residuals) / (n + shrink)
    # The item-item channel beside the message passing: EASE (a closed-form
    # item-item model) over the member's ratings (value / 5), added to the
    # ranking score with weight scale * n / (n + half) for a member with n
    # ratings. λ, scale and half are chosen on the validation share.
    ease: bool = True
    ease_lambdas: tuple = (50.0, 100.0, 200.0, 350.0, 500.0)
    ease_scales: tuple = (0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
    ease_halves: tuple = (0.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 1e9)
    # EASE is O(movies²) memory and O(movies³) time: beyond this many movies
    # it covers the most-rated ones only (the rest neither send nor receive
    # item-item weight). 4,000 keeps its serving weights at 64 MB.
    ease_movies: int = 4000
    # The demographic prior new members start from: log of the share of likes
    # among members of about their age (a Gaussian kernel over years) and of
    # their gender (other genders count ``prior_other_genders`` as much),
    # smoothed toward the overall share; weight scale * half / (n + half) for
    # a member with n ratings, so that their own ratings take over.
    prior: bool = True
    prior_bandwidths: tuple = (3.0, 8.0, 20.0)
    # Where gender carries taste, genders kept apart (0) rank best; where age
    # does, the prior must be able to outweigh the profile's own scores (the
    # larger scales). Validation chooses among them.
    prior_other_genders: tuple = (0.0, 0.2, 1.0)
    prior_smoothings: tuple = (0.1, 1.0)
    prior_scales: tuple = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
    prior_halves: tuple = (1.0, 3.0, 10.0, 30.0, 100.0, 1e9)
    ema: float = 0.99  # the weights kept are an exponential moving average
    # Mini-batches (gnn.ml.sampling): seed members per step, neighbours kept
    # per node and negatives per step, 0 meaning all of them; None: chosen by
    # the number of ratings (``sized``). With all three at 0 a step is a
    # full-graph step.
    batch_members: int | None = None
    fanout: int | None = None
    negatives: int | None = None
    seed: int = 0

    def sized(self, n_ratings: int) -> Config:
        """These settings with every size left open chosen for ``n_ratings``:
        the whole graph per step up to ``FULL_GRAPH_RATINGS`` (where it is
        cheap and what the model was tuned with), sampled beyond."""
        small = n_ratings <= FULL_GRAPH_RATINGS
        defaults = {"batch_members": 0, "fanout": 0, "negatives": 0} if small else SAMPLED
        return replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})

    @property
    def n_types(self) -> int:
        return N_RATINGS + int(self.centred)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["fewshot_ks"] = list(self.fewshot_ks)
        for name in TUPLES:
            data[name] = list(getattr(self, name))
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in TUPLES:
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


FULL_GRAPH_RATINGS = 300_000
# Beyond it: about 400 steps make a few epochs at a million ratings; a
# movie's 20 sampled raters carry most of what its mean says.
SAMPLED = {"batch_members": 2048, "fanout": 20, "negatives": 2048}

TUPLES = (
    "fewshot_ks", "ease_lambdas", "ease_scales", "ease_halves", "prior_bandwidths",
    "prior_other_genders", "prior_smoothings", "prior_scales", "prior_halves",
)  # fmt: skip
__all__ = [
    "BASE_USER_SHRINK", "GENDER_CODES", "MAX_AGE", "N_GENDER_GROUPS", "N_PRIOR_KEYS", "N_RATINGS",
    "UNKNOWN_GENDER_CODE", "prior_keys",
]  # fmt: skip


# --- The typed adjacency -------------------------------------------------------


def adjacency_entries(src, dst, rating, centred: bool):
    """The non-zeros of a typed adjacency in edge order: (src, dst, type) per
    entry; with the centred channel, two adjacent entries per edge."""
    if not centred:
        return src, dst, rating - 1
    extra = torch.full_like(rating, N_RATINGS)
    types = torch.stack([rating - 1, extra], 1).reshape(-1)

    def twice(x):  # each entry twice in a row (faster than repeat_interleave)
        return x.unsqueeze(1).expand(-1, 2).reshape(-1)

    return twice(src), twice(dst), types


class TypedAdj:
    """A typed adjacency A [n_dst, n_src * T] in CSR and, for training, A^T."""

    def __init__(self, A, AT=None):
        self.A, self.AT = A, AT


class Blocks:
    """The adjacencies of one pass of the two layers. Layer 1 gives every
    movie row a state (``to_movie``) and the first rows of users one
    (``to_user``); layer 2 the first rows of movies (``to_movie2``, whose
    sources are those users) and the first rows of users (``to_user2``).
    The whole graph is the case where layer 2 reuses layer 1's adjacencies;
    a sampled mini-batch puts its scored movies and its seed members first."""

    def __init__(self, to_user: TypedAdj, to_movie: TypedAdj, to_user2=None, to_movie2=None):
        self.to_user, self.to_movie = to_user, to_movie
        self.to_user2 = to_user if to_user2 is None else to_user2
        self.to_movie2 = to_movie if to_movie2 is None else to_movie2

    @property
    def n_users1(self) -> int:
        return self.to_user.A.size(0)

    @property
    def n_users2(self) -> int:
        return self.to_user2.A.size(0)

    @property
    def n_movies2(self) -> int:
        return self.to_movie2.A.size(0)


class _SpMM(torch.autograd.Function):
    """y = A @ x with the gradient A^T @ dy from a prebuilt A^T: torch's own
    sparse backward converts A^T to CSR on every call (~20% of a step)."""

    @staticmethod
    def forward(ctx, A, AT, x):
        ctx.AT = AT
        return torch.sparse.mm(A, x)

    @staticmethod
    def backward(ctx, dy):
        return None, None, torch.sparse.mm(ctx.AT, dy)


def _csr(rows, cols, values, n_rows: int, n_cols: int):
    crow = torch.zeros(n_rows + 1, dtype=torch.long)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n_rows), 0)
    return torch.sparse_csr_tensor(crow, cols, values, (n_rows, n_cols), check_invariants=False)


def typed_adjacency(
    src, dst, rating, n_src: int, n_dst: int, power: float, residual=None,
    residual_power: float = 0.5, transpose: bool = False, degree=None,
) -> TypedAdj:  # fmt: skip
    """Row i of A holds deg_i**-p at column T*j + (r_ij - 1) for each edge
    j -> i; with ``residual`` (T = 6) also residual_ij * deg_i**-q at column
    T*j + 5, the centred-rating channel.

    ``degree``: each row's true number of neighbours when the edges given are
    a sample of them (mini-batch training). Each sampled edge then stands for
    degree / sampled of them, so a row sums to what all its edges would give
    on average."""
    centred = residual is not None
    T = N_RATINGS + int(centred)
    sampled = torch.bincount(dst, minlength=n_dst).clamp(min=1).float()
    degree = sampled if degree is None else degree.clamp(min=1).float()
    share = (degree / sampled)[dst]
    es, ed, et = adjacency_entries(src, dst, rating, centred)
    values = degree.pow(-power)[dst] * share
    if centred:
        resid = residual * degree.pow(-residual_power)[dst] * share
        values = torch.stack([values, resid], 1).reshape(-1)
    columns = es * T + et
    if len(ed) > 1 and not bool((ed[1:] >= ed[:-1]).all()):  # sampled batches come in row order
        by_row = torch.argsort(ed, stable=True)
        ed, columns, values = ed[by_row], columns[by_row], values[by_row]
    A = _csr(ed, columns, values, n_dst, n_src * T)
    AT = None
    if transpose:
        by_column = torch.argsort(columns, stable=True)
        AT = _csr(columns[by_column], ed[by_column], values[by_column], n_src * T, n_dst)
    return TypedAdj(A, AT)


class RatingSAGEConv(MessagePassing):
    """out_i = W_root x_i + b + sum_j deg_i**-p W_{r_ij} x_j
    [+ sum_j deg_i**-q resid_ij W_c x_j]."""

    def __init__(self, in_src: int, in_dst: int, out: int, n_types: int = N_RATINGS):
        super().__init__(aggr="sum")
        self.out, self.n_types = out, n_types
        self.weight = nn.Parameter(torch.empty(n_types, in_src, out))
        nn.init.xavier_uniform_(self.weight.view(n_types * in_src, out))
        self.lin_root = nn.Linear(in_dst, out)

    def source_messages(self, x_src: torch.Tensor) -> torch.Tensor:
        """Every source's message for each type: [n_src, T, out]."""
        stacked = self.weight.permute(1, 0, 2).reshape(x_src.size(1), self.n_types * self.out)
        return (x_src @ stacked).view(x_src.size(0), self.n_types, self.out)

    def forward(self, x_src, x_dst, adjacency: TypedAdj):
        messages = self.source_messages(x_src).view(x_src.size(0) * self.n_types, self.out)
        aggregated = self.propagate(adjacency.A, x=(messages, None), adj_T=adjacency.AT)
        return aggregated + self.lin_root(x_dst)

    def message_and_aggregate(self, adj_t, x, adj_T):
        if adj_T is not None and torch.is_grad_enabled():
            return _SpMM.apply(adj_t, adj_T, x[0])
        return torch.sparse.mm(adj_t, x[0])


def fit_baseline(u, m, r, n_users: int, n_movies: int, reg_m: float = 25.0, iterations: int = 5):
    """Ridge baseline r ~ mu + b_u + b_m; the movie part feeds the centred channel."""
    r = r.float()
    mu = r.mean()
    bu, bm = torch.zeros(n_users), torch.zeros(n_movies)
    ones = torch.ones(len(r))
    nu = torch.zeros(n_users).index_add_(0, u, ones)
    nm = torch.zeros(n_movies).index_add_(0, m, ones)
    for _ in range(iterations):
        bm = torch.zeros(n_movies).index_add_(0, m, r - mu - bu[u]) / (nm + reg_m)
        bu = torch.zeros(n_users).index_add_(0, u, r - mu - bm[m]) / (nu + BASE_USER_SHRINK)
    return float(mu), bm


def positions(nodes: torch.Tensor, n: int) -> torch.Tensor:
    """Each of ``n`` nodes' position in ``nodes`` (-1 where absent): how the
    item-item channel, which covers some movies, finds its rows."""
    position = torch.full((n,), -1, dtype=torch.long)
    position[nodes] = torch.arange(len(nodes))
    return position


class MovieTables:
    """The per-movie parameters of the graph's movie nodes (node order)."""

    def __init__(
        self, embedding, rank_bias, rate_bias, base_bias, ease=None, prior=None, ease_nodes=None
    ):
        self.embedding = embedding
        self.rank_bias = rank_bias
        self.rate_bias = rate_bias
        self.base_bias = base_bias
        self.ease = ease  # item-item weights between the nodes it covers [K, K], or None
        self.ease_nodes = ease_nodes  # those nodes [K]
        self.prior = prior  # demographic prior [groups, M], or None


def ease_gram(X: torch.Tensor, rows_per_block: int = 1024) -> torch.Tensor:
    """XᵀX in float64, computed once for every λ tried. By blocks of rows, so
    that no float64 copy of the whole [users x movies] matrix is made."""
    gram = torch.zeros(X.size(1), X.size(1), dtype=torch.float64)
    for start in range(0, X.size(0), rows_per_block):
        block = X[start : start + rows_per_block].double()
        gram.addmm_(block.T, block)
    return gram


def ease_weights(X: torch.Tensor, lam: float, gram: torch.Tensor | None = None) -> torch.Tensor:
    """EASE (Steck 2019) from a user-movie matrix: G = XᵀX + λI, P = G⁻¹,
    B = -P / diag(P) with a zero diagonal (float64; G is symmetric positive
    definite, so the inverse goes by Cholesky, half the work of a general one).
    A given ``gram`` is left as it was, for the next λ."""
    # In place where it can be: at a few thousand movies each copy is 100 MB.
    shifted = ease_gram(X) if gram is None else gram.clone()
    shifted.diagonal().add_(lam)
    factor, info = torch.linalg.cholesky_ex(shifted)
    if int(info) == 0:
        del shifted
        inverse = torch.cholesky_inverse(factor)
    else:
        inverse = torch.linalg.inv(shifted)
        del shifted
    del factor
    inverse.div_(-inverse.diagonal().clone()[None, :])
    inverse.fill_diagonal_(0.0)
    return inverse.float()


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
        # Fixed baseline movie biases for the centred channel (set by training).
        self.register_buffer("base_bias", torch.zeros(n_movies))
        self.user_in = nn.Sequential(nn.Linear(n_user_features, d), nn.ReLU(), nn.Linear(d, d))
        self.movie_in = nn.Linear(n_movie_features, d)
        self.movie_emb = nn.Embedding(n_movies, d)
        nn.init.normal_(self.movie_emb.weight, std=0.1)
        self.conv1_mu = RatingSAGEConv(d, d, d, cfg.n_types)  # movie -> user
        self.conv1_um = RatingSAGEConv(d, d, d, cfg.n_types)  # user -> movie
        self.conv2_mu = RatingSAGEConv(d, d, d, cfg.n_types)
        self.conv2_um = RatingSAGEConv(d, d, d, cfg.n_types)
        self.rank_bias = nn.Parameter(torch.zeros(n_movies))
        self.rate_bias = nn.Parameter(torch.zeros(n_movies))
        # The item-item channel: weights fitted in closed form after training
        # (not by gradient) and its weight in the ranking score, both chosen
        # on validation (gnn.ml.training.fit_item_item).
        n_ease = min(n_movies, cfg.ease_movies) if cfg.ease else 0
        self.register_buffer("ease_weights", torch.zeros(n_ease, n_ease))
        # The movie nodes the channel covers (the most-rated, in node order).
        self.register_buffer("ease_nodes", torch.arange(n_ease))
        self.register_buffer("ease_scale", torch.tensor(0.0))
        self.register_buffer("ease_half", torch.tensor(0.0))
        # The demographic prior [gender x age, movies], fitted and weighted likewise.
        n_keys = N_PRIOR_KEYS if cfg.prior else 0
        self.register_buffer("prior_table", torch.zeros(n_keys, n_movies))
        self.register_buffer("prior_scale", torch.tensor(0.0))
        self.register_buffer("prior_half", torch.tensor(1.0))
        self.rate_p = nn.Linear(d, d, bias=False)
        self.rate_q = nn.Linear(d, d, bias=False)
        nn.init.normal_(self.rate_p.weight, std=0.02)
        nn.init.normal_(self.rate_q.weight, std=0.02)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Versions from before the channel could be restricted cover every movie.
        weights = state_dict.get(prefix + "ease_weights")
        if weights is not None and prefix + "ease_nodes" not in state_dict:
            state_dict[prefix + "ease_nodes"] = torch.arange(weights.size(0))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def drop(self, x):
        # F.dropout's maths; torch.rand is ~2x faster than bernoulli_ on CPU.
        if not self.training or self.cfg.dropout == 0:
            return x
        keep = 1.0 - self.cfg.dropout
        return x * ((torch.rand_like(x) < keep).float() / keep)

    # --- per-movie parameters, with a fallback for movies added later ------

    def movie_tables(self, rows: torch.Tensor | None) -> MovieTables:
        """Parameters of the graph's movie nodes; ``rows`` maps nodes to rows
        of the tables (-1: a movie the model never saw). None: the identity."""
        tables = (self.movie_emb.weight, self.rank_bias, self.rate_bias, self.base_bias)
        ease = self.ease_weights if self.cfg.ease else None
        nodes = self.ease_nodes if self.cfg.ease else None
        prior = self.prior_table if self.cfg.prior else None
        if rows is None:
            return MovieTables(*tables, ease, prior, nodes)
        known = rows >= 0
        safe = rows.clamp(min=0)
        if ease is not None:
            # A movie the model never saw neither sends nor receives item-item weight.
            covered = torch.where(known, positions(nodes, self.rank_bias.size(0))[safe], -1)
            nodes = (covered >= 0).nonzero().squeeze(1)
            ease = ease[covered[nodes]][:, covered[nodes]]
        if prior is not None:
            # ... and has no likes yet: the least a group's prior gives.
            prior = torch.where(known[None, :], prior[:, safe], prior.min(1, keepdim=True).values)
        if bool(known.all()):
            return MovieTables(*(t[safe] for t in tables), ease, prior, nodes)
        picked = []
        for table in tables:
            fallback = table.mean(0)
            shape = (-1, *([1] * (table.dim() - 1)))
            picked.append(torch.where(known.view(shape), table[safe], fallback))
        return MovieTables(*picked, ease, prior, nodes)

    def movie_h0(self, movie_x, tables: MovieTables):
        return self.movie_in(movie_x) + tables.embedding

    def user_h0(self, user_x):
        # Dropping raw demographics in training keeps the model from
        # recognising individual training users by their feature combination.
        return self.user_in(F.dropout(user_x, self.cfg.user_drop, self.training))

    # --- layers -----------------------------------------------------------

    def edge_residuals(self, ui, mi, r, n_users: int, base_bias):
        """r - (mu + base_bias[m] + b_u), b_u from the user's own edges."""
        if not self.cfg.centred:
            return None
        residual = r.float() - self.mu - base_bias[mi]
        total = torch.zeros(n_users).index_add_(0, ui, residual)
        count = torch.zeros(n_users).index_add_(0, ui, torch.ones_like(residual))
        return residual - (total / (count + BASE_USER_SHRINK))[ui]

    def adjacencies(self, ui, mi, r, n_users, n_movies, base_bias):
        """(movie -> user, user -> movie) typed adjacencies of the whole graph."""
        cfg = self.cfg
        residual = self.edge_residuals(ui, mi, r, n_users, base_bias)
        movie_to_user = typed_adjacency(
            mi, ui, r, n_movies, n_users, cfg.norm_power, residual, cfg.resid_power
        )
        user_to_movie = typed_adjacency(
            ui, mi, r, n_users, n_movies, cfg.norm_power, residual, cfg.resid_power_movie
        )
        return movie_to_user, user_to_movie

    def forward(self, user_x, movie_x, ui, mi, r, movie_rows=None):
        """Full-graph pass over the edges (user row, movie node, rating)."""
        tables = self.movie_tables(movie_rows)
        to_user, to_movie = self.adjacencies(
            ui, mi, r, user_x.size(0), movie_x.size(0), tables.base_bias
        )
        return self.forward_blocks(user_x, movie_x, Blocks(to_user, to_movie), tables)

    def forward_blocks(self, user_x, movie_x, blocks: Blocks, tables: MovieTables):
        """The two layers over ``blocks``: ``user_x`` and ``movie_x`` are the
        features of the pass's users and movies in the blocks' row order,
        ``tables`` the movie parameters in that order."""
        # One dropout mask per state, shared by its root and neighbour uses.
        u0 = self.drop(self.user_h0(user_x))
        m0 = self.drop(self.movie_h0(movie_x, tables))
        m1 = self.drop(F.relu(self.conv1_um(u0, m0, blocks.to_movie)))
        u1 = self.drop(F.relu(self.conv1_mu(m0, u0[: blocks.n_users1], blocks.to_user)))
        m2 = self.conv2_um(u1, m1[: blocks.n_movies2], blocks.to_movie2)
        u2 = self.conv2_mu(m1, u1[: blocks.n_users2], blocks.to_user2)
        return {"u": u2, "m0": m0, "m1": m1, "m": m2, "tables": tables}

    # --- heads ------------------------------------------------------------

    def user_bias(self, ui, mi, r, n_users: int, rate_bias) -> torch.Tensor:
        residual = r.float() - self.mu - rate_bias[mi]
        total = torch.zeros(n_users).index_add_(0, ui, residual)
        count = torch.zeros(n_users).index_add_(0, ui, torch.ones_like(residual))
        return total / (count + self.cfg.bias_shrink)

    def rating_pairs(self, zu, zm, bu, rate_bias, ui, mi):
        """Predicted ratings for the pairs (ui, mi); projections per node, then gathered."""
        interaction = (self.rate_p(zu)[ui] * self.rate_q(zm)[mi]).sum(-1)
        return self.mu + rate_bias[mi] + bu[ui] + interaction
