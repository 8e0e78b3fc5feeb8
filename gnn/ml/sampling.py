"""Mini-batch neighbourhoods for training, in plain torch. No Django here.

PyTorch Geometric's NeighborLoader needs pyg-lib or torch-sparse; this is the
same idea on CSR arrays. A batch is a set of seed members. Each seed's ratings
are split into inputs and targets (an ordinary member keeps a random share as
inputs; a few-shot one only their k earliest: what new members look like).
Targets never pass messages, so the model cannot copy them; every other
rating may. The batch then holds what two layers need to embed the seeds
and score their target movies (plus sampled negatives), each node's
neighbours sampled to a fan-out: all of them when it has fewer, otherwise
that many picks with replacement (O(fan-out) per node, however popular the
movie; a duplicate pick only reweights that neighbour).

With every fan-out, every negative and every member in one batch, a step is
exactly a full-graph step: one path for every size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gnn.ml.arrays import BASE_USER_SHRINK
from gnn.ml.data import Ratings
from gnn.ml.network import Blocks, MovieTables, typed_adjacency


def _pointers(owner: torch.Tensor, n: int) -> torch.Tensor:
    ptr = torch.zeros(n + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(torch.bincount(owner, minlength=n), 0)
    return ptr


def segment_picks(ptr, nodes, fanout: int, generator, owners=None):
    """Positions of the entries sampled for each node of ``nodes`` from its
    segment ptr[n]..ptr[n+1], and the index in ``nodes`` of each: every entry
    when the segment has at most ``fanout`` (0: no limit), else ``fanout``
    uniform picks with replacement. ``owners``: each entry's node, which
    answers at once for every node in order with no limit (a whole-graph
    batch)."""
    if owners is not None and not fanout and _every_node(nodes, len(ptr) - 1):
        return torch.arange(int(ptr[-1])), owners
    start = ptr[nodes]
    count = ptr[nodes + 1] - start
    take = count if not fanout else count.clamp(max=fanout)
    owner = torch.repeat_interleave(torch.arange(len(nodes)), take)
    offset = torch.arange(len(owner)) - torch.repeat_interleave(torch.cumsum(take, 0) - take, take)
    if fanout and bool((count > take).any()):
        size = count[owner]
        random = (torch.rand(len(owner), generator=generator) * size).long().clamp(max=size - 1)
        offset = torch.where((count > take)[owner], random, offset)
    return start[owner] + offset, owner


def _every_node(nodes: torch.Tensor, n: int) -> bool:
    return len(nodes) == n and (n == 0 or bool((nodes == torch.arange(n)).all()))


def ordered_union(first: torch.Tensor, more: torch.Tensor, n: int):
    """``first`` (distinct) followed by the distinct values of ``more`` not in
    it, and the map from value to position (-1 elsewhere)."""
    position = torch.full((n,), -1, dtype=torch.long)
    position[first] = torch.arange(len(first))
    new = torch.unique(more[position[more] < 0])
    position[new] = torch.arange(len(first), len(first) + len(new))
    return torch.cat([first, new]), position


class EdgeGraph:
    """The training ratings as CSR both ways: edges sorted by member then time
    (an edge's id is its position), and the edge ids of each movie's raters."""

    def __init__(self, ratings: Ratings, n_users: int, n_movies: int):
        order = np.lexsort((ratings.movie, ratings.time, ratings.user))
        self.user = torch.as_tensor(ratings.user[order], dtype=torch.long)
        self.movie = torch.as_tensor(ratings.movie[order], dtype=torch.long)
        self.value = torch.as_tensor(ratings.value[order], dtype=torch.long)
        self.n_users, self.n_movies = n_users, n_movies
        self.user_ptr = _pointers(self.user, n_users)
        self.rank = torch.arange(len(self.user)) - self.user_ptr[self.user]
        self.by_movie = torch.argsort(self.movie, stable=True)
        self.movie_of_rater = self.movie[self.by_movie]
        self.movie_ptr = _pointers(self.movie, n_movies)
        self.user_degree = self.user_ptr.diff()
        self.movie_degree = self.movie_ptr.diff()
        self.residual = torch.zeros(len(self.user))
        self.user_residual = torch.zeros(n_users)

    def set_baseline(self, mu: float, base_bias: torch.Tensor) -> None:
        """Each rating's residual over the baseline, for the centred channel."""
        self.residual = self.value.float() - mu - base_bias[self.movie]
        self.user_residual = torch.zeros(self.n_users).index_add_(0, self.user, self.residual)

    def epoch_batches(self, members: torch.Tensor, batch: int, generator) -> list[torch.Tensor]:
        """``members`` shuffled into near-equal batches of at most ``batch``,
        each in row order (memory read in order; a batch of everyone is then
        every row in order, which the sampler answers without searching)."""
        shuffled = members[torch.randperm(len(members), generator=generator)]
        parts = -(-len(shuffled) // batch) if batch else 1
        return [part.sort().values for part in torch.tensor_split(shuffled, max(parts, 1))]


@dataclass
class Batch:
    users: torch.Tensor  # graph rows of the pass's users: seeds first
    movies: torch.Tensor  # movie nodes of the pass: scored movies first
    blocks: Blocks
    inputs: tuple  # the seeds' input edges (seed, local movie, value)
    targets: tuple  # their targets (seed, local movie, value, weight, rate weight)
    log_q: torch.Tensor | None  # the negatives' sampling correction per scored movie


@dataclass
class Split:
    inputs: torch.Tensor  # edge ids
    input_owner: torch.Tensor  # seed index of each
    targets: torch.Tensor
    target_owner: torch.Tensor
    weight: torch.Tensor  # per target: the ranking loss weight
    rate_weight: torch.Tensor  # and the rating loss weight


def split_seeds(graph: EdgeGraph, seeds, cfg, generator) -> Split:
    """Inputs and targets of each seed's ratings. Few-shot members' targets
    are weighted to count as much as an ordinary member's (otherwise their
    many targets take most of the loss)."""
    edges, owner = segment_picks(graph.user_ptr, seeds, 0, generator, graph.user)
    n = len(seeds)
    fewshot = torch.rand(n, generator=generator) < cfg.fewshot_share
    choices = torch.tensor(cfg.fewshot_ks)
    ks = choices[torch.randint(len(choices), (n,), generator=generator)]
    keep_random = torch.rand(len(edges), generator=generator) >= cfg.target_frac
    keep = torch.where(fewshot[owner], graph.rank[edges] < ks[owner], keep_random)
    weight = torch.ones(n)
    if cfg.fewshot_balance:
        degree = graph.user_degree[seeds]
        balanced = cfg.fewshot_balance * cfg.target_frac * degree / (degree - ks).clamp(min=1)
        weight = torch.where(fewshot, balanced.float(), weight)
    rate_weight = torch.where(fewshot, weight * cfg.fewshot_rate_weight, weight)
    targets = ~keep
    return Split(
        edges[keep], owner[keep], edges[targets], owner[targets],
        weight[owner[targets]], rate_weight[owner[targets]],
    )  # fmt: skip


def shard_of(split: Split, seeds: torch.Tensor, rank: int, world: int):
    """This process's share of a batch: its seeds (a run of the sorted
    batch) and their part of the split, owners counted from its first."""
    own = torch.tensor_split(torch.arange(len(seeds)), world)[rank]
    first, last = (int(own[0]), int(own[-1]) + 1) if len(own) else (0, 0)
    ins = (split.input_owner >= first) & (split.input_owner < last)
    outs = (split.target_owner >= first) & (split.target_owner < last)
    mine = Split(
        split.inputs[ins], split.input_owner[ins] - first, split.targets[outs],
        split.target_owner[outs] - first, split.weight[outs], split.rate_weight[outs],
    )  # fmt: skip
    return seeds[first:last], mine


def scored_movies(graph: EdgeGraph, split: Split, cfg, popularity, generator):
    """The movies the seeds' softmax runs over: every movie, or the targets
    plus ``cfg.negatives`` uniform draws with the logQ correction of mixed
    negative sampling (minus the log of how often each is expected among them)."""
    n_movies = graph.n_movies
    if not cfg.negatives or cfg.negatives >= n_movies:
        return torch.arange(n_movies), None
    target_movies = graph.movie[split.targets]
    drawn = torch.randint(n_movies, (cfg.negatives,), generator=generator)
    scored = torch.unique(torch.cat([target_movies, drawn]))
    expected = cfg.negatives / n_movies + len(target_movies) * popularity[scored]
    return scored, expected.log()


@dataclass
class _Hood:
    """The sampled neighbourhood of a batch, in graph ids and pass rows."""

    scored: torch.Tensor  # movie nodes scored (the first pass movies)
    users1: torch.Tensor  # members with a layer-1 state (seeds first)
    users: torch.Tensor  # every member of the pass (users1 first)
    movies: torch.Tensor  # every movie of the pass (scored first)
    user_position: torch.Tensor  # graph row -> pass row (-1: not in the pass)
    movie_position: torch.Tensor
    user_edges: torch.Tensor  # edges into members' states, and their pass rows
    user_dst: torch.Tensor
    movie_edges: torch.Tensor  # edges into movies' states, and their pass rows
    movie_dst: torch.Tensor


def _neighbourhood(graph: EdgeGraph, seeds, split: Split, scored, fanout: int, generator, blocked):
    n_seeds = len(seeds)

    def raters(movies, first_dst: int):
        picks, owner = segment_picks(
            graph.movie_ptr, movies, fanout, generator, graph.movie_of_rater
        )
        edges = graph.by_movie[picks]
        free = ~blocked[edges]
        return edges[free], owner[free] + first_dst

    # Layer 2 embeds the seeds and the scored movies; the scored movies' raters
    # need layer-1 states too, and so the movies of every one of them. A
    # seed's neighbours are its inputs; another process's seeds' targets are
    # blocked as well (the whole batch is split alike in every process).
    scored_edges, scored_dst = raters(scored, 0)
    users1, _ = ordered_union(seeds, graph.user[scored_edges], graph.n_users)
    input_ptr = _pointers(split.input_owner, n_seeds)
    picks, seed_dst = segment_picks(input_ptr, torch.arange(n_seeds), fanout, generator)
    others, owner = segment_picks(graph.user_ptr, users1[n_seeds:], fanout, generator)
    free = ~blocked[others]
    user_edges = torch.cat([split.inputs[picks], others[free]])
    user_dst = torch.cat([seed_dst, owner[free] + n_seeds])
    movies, movie_position = ordered_union(scored, graph.movie[user_edges], graph.n_movies)
    rest_edges, rest_dst = raters(movies[len(scored) :], len(scored))
    movie_edges = torch.cat([scored_edges, rest_edges])
    movie_dst = torch.cat([scored_dst, rest_dst])
    users, user_position = ordered_union(users1, graph.user[movie_edges], graph.n_users)
    return _Hood(
        scored, users1, users, movies, user_position, movie_position, user_edges, user_dst,
        movie_edges, movie_dst,
    )  # fmt: skip


def _blocks(graph: EdgeGraph, hood: _Hood, blocked_edges, n_seeds: int, cfg) -> Blocks:
    # True degrees in the message graph (targets excluded) and the residuals
    # of the centred channel, each member's bias from their message edges.
    users, movies = hood.users, hood.movies
    blocked_users = graph.user[blocked_edges]
    user_degree = (graph.user_degree - torch.bincount(blocked_users, minlength=graph.n_users))[
        users
    ]
    blocked_residual = torch.zeros(graph.n_users).index_add_(
        0, blocked_users, graph.residual[blocked_edges]
    )
    user_bias = (graph.user_residual - blocked_residual)[users] / (user_degree + BASE_USER_SHRINK)
    blocked_per_movie = torch.bincount(graph.movie[blocked_edges], minlength=graph.n_movies)
    movie_degree = (graph.movie_degree - blocked_per_movie)[movies]
    n_scored, n_users1 = len(hood.scored), len(hood.users1)

    def adjacency(edges, dst, to_users: bool, n_dst: int, n_src_users: int = len(users)):
        local_user = hood.user_position[graph.user[edges]]
        local_movie = hood.movie_position[graph.movie[edges]]
        residual = None
        if cfg.centred:
            residual = graph.residual[edges] - user_bias[local_user]
        if to_users:
            src, n_src, degree, power = local_movie, len(movies), user_degree, cfg.resid_power
        else:
            src, degree, power = local_user, movie_degree, cfg.resid_power_movie
            n_src = n_src_users
        return typed_adjacency(
            src, dst, graph.value[edges], n_src, n_dst, cfg.norm_power, residual, power,
            transpose=True, degree=degree[:n_dst],
        )  # fmt: skip

    to_movie = adjacency(hood.movie_edges, hood.movie_dst, False, len(movies))
    to_user = adjacency(hood.user_edges, hood.user_dst, True, n_users1)
    to_movie2 = to_user2 = None
    if n_scored < len(movies) or n_users1 < len(users):
        keep = hood.movie_dst < n_scored
        edges, dst = hood.movie_edges[keep], hood.movie_dst[keep]
        to_movie2 = adjacency(edges, dst, False, n_scored, n_users1)
    if n_seeds < n_users1:
        keep = hood.user_dst < n_seeds
        to_user2 = adjacency(hood.user_edges[keep], hood.user_dst[keep], True, n_seeds)
    return Blocks(to_user, to_movie, to_user2, to_movie2)


def sample_batch(
    graph: EdgeGraph, seeds, cfg, popularity, generator, split_generator=None, shard=(0, 1)
) -> Batch:
    """The pass that trains on ``seeds`` (graph rows of members, sorted), or
    on the ``shard`` (rank, world) of them that is this process's. Every
    process splits the whole batch alike (``split_generator``, seeded the
    same everywhere), so no process passes a message along another's target."""
    split = split_seeds(graph, seeds, cfg, split_generator or generator)
    seeds, mine = shard_of(split, seeds, *shard)
    blocked = torch.zeros(len(graph.user), dtype=torch.bool)
    blocked[split.targets] = True
    scored, log_q = scored_movies(graph, mine, cfg, popularity, generator)
    hood = _neighbourhood(graph, seeds, mine, scored, cfg.fanout, generator, blocked)
    blocks = _blocks(graph, hood, split.targets, len(seeds), cfg)

    def local(edges, owner):
        return owner, hood.movie_position[graph.movie[edges]], graph.value[edges]

    inputs = local(mine.inputs, mine.input_owner)
    targets = (*local(mine.targets, mine.target_owner), mine.weight, mine.rate_weight)
    return Batch(hood.users, hood.movies, blocks, inputs, targets, log_q)


def local_tables(tables: MovieTables, movies: torch.Tensor) -> MovieTables:
    """The movie parameters of a pass's movies, in its order (differentiable)."""
    return MovieTables(
        tables.embedding[movies], tables.rank_bias[movies], tables.rate_bias[movies],
        tables.base_bias[movies],
    )  # fmt: skip
