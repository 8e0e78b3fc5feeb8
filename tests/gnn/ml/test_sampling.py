"""Mini-batch neighbourhoods: fan-outs, targets kept out of the messages, and
a batch of everyone with every neighbour is exactly the full graph."""

import numpy as np
import torch

from gnn.ml.data import Ratings
from gnn.ml.network import Config, Recommender
from gnn.ml.sampling import EdgeGraph, local_tables, sample_batch, segment_picks


def _graph(n_users=6, n_movies=8, seed=0):
    rng = np.random.default_rng(seed)
    rows = [(u, m) for u in range(n_users) for m in range(n_movies) if rng.random() < 0.6]
    user, movie = (np.array(column) for column in zip(*rows, strict=True))
    ratings = Ratings(user, movie, rng.integers(1, 6, len(user)), np.arange(len(user)))
    return EdgeGraph(ratings, n_users, n_movies)


def test_a_node_keeps_every_neighbour_up_to_the_fan_out_and_that_many_picks_beyond():
    ptr = torch.tensor([0, 2, 9, 9])  # segments of 2, 7 and 0 entries
    generator = torch.Generator().manual_seed(0)
    picks, owner = segment_picks(ptr, torch.tensor([0, 1, 2]), 3, generator)
    assert picks[owner == 0].tolist() == [0, 1]  # fewer than the fan-out: all of them
    assert len(picks[owner == 1]) == 3 and all(2 <= p < 9 for p in picks[owner == 1].tolist())
    assert not (owner == 2).any()
    everything, _ = segment_picks(ptr, torch.tensor([1]), 0, generator)
    assert everything.tolist() == list(range(2, 9))  # fan-out 0: no limit


def _edges_of(adjacency, sources, destinations):
    """(source id, destination id) of each non-zero of a typed adjacency."""
    A = adjacency.A.to_dense()
    rows, columns = A.nonzero(as_tuple=True)
    n_types = A.size(1) // len(sources)
    pairs = zip(rows.tolist(), columns.tolist(), strict=True)
    return {(int(sources[c // n_types]), int(destinations[r])) for r, c in pairs}


def test_no_target_rating_passes_a_message_and_fan_outs_hold_in_a_sampled_batch():
    graph = _graph(n_users=30, n_movies=20)
    graph.set_baseline(3.0, torch.zeros(20))
    cfg = Config(batch_members=5, fanout=2, negatives=4, fewshot_share=0.5).sized(10**9)
    seeds = torch.tensor([3, 7, 11])
    popularity = torch.full((20,), 1 / 20)
    batch = sample_batch(graph, seeds, cfg, popularity, torch.Generator().manual_seed(1))
    tu, tm, *_ = batch.targets
    targets = {(int(seeds[u]), int(batch.movies[m])) for u, m in zip(tu, tm, strict=True)}
    assert targets  # the seeds have something to predict
    blocks = batch.blocks
    messages_to_users = _edges_of(blocks.to_user, batch.movies, batch.users)
    messages_to_movies = _edges_of(blocks.to_movie, batch.users, batch.movies)
    assert not {(u, m) for m, u in messages_to_users} & targets
    assert not messages_to_movies & targets
    # Each node's sampled neighbours are at most the fan-out (two entries an
    # edge: its rating's type and the centred channel).
    assert int(blocks.to_user.A.crow_indices().diff().max()) <= cfg.fanout * 2
    assert int(blocks.to_movie.A.crow_indices().diff().max()) <= cfg.fanout * 2
    # Every target movie is scored, and the seeds come first.
    assert set(tm.tolist()) <= set(range(blocks.n_movies2))
    assert batch.users[:3].tolist() == seeds.tolist()


def test_a_batch_of_everyone_with_every_neighbour_is_the_full_graph():
    graph = _graph()
    cfg = Config(dim=8, batch_members=0, fanout=0, negatives=0)
    model = Recommender(3, 2, graph.n_movies, 3.0, cfg).eval()
    graph.set_baseline(float(model.mu), model.base_bias)
    seeds = torch.randperm(graph.n_users, generator=torch.Generator().manual_seed(2))
    batch = sample_batch(graph, seeds, cfg, torch.ones(8) / 8, torch.Generator().manual_seed(3))
    user_x, movie_x = torch.randn(graph.n_users, 3), torch.randn(graph.n_movies, 2)

    tables = local_tables(model.movie_tables(None), batch.movies)
    sampled = model.forward_blocks(user_x[batch.users], movie_x[batch.movies], batch.blocks, tables)
    # The full graph over the inputs alone: every seed's targets left out.
    iu, im, ir = batch.inputs
    full = model(user_x, movie_x, seeds[iu], batch.movies[im], ir)

    torch.testing.assert_close(sampled["u"], full["u"][seeds], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(sampled["m"], full["m"][batch.movies], rtol=1e-4, atol=1e-5)


def test_two_processes_split_a_batch_alike_and_neither_passes_the_others_targets():
    graph = _graph(n_users=30, n_movies=20)
    graph.set_baseline(3.0, torch.zeros(20))
    cfg = Config(batch_members=0, fanout=0, negatives=0).sized(10**9)
    seeds = torch.arange(30)
    popularity = torch.full((20,), 1 / 20)

    def batch(shard):
        split, sampling = torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)
        return sample_batch(graph, seeds, cfg, popularity, sampling, split, shard)

    def targets(b, first):
        tu, tm, *_ = b.targets
        return {(first + int(u), int(b.movies[m])) for u, m in zip(tu, tm, strict=True)}

    whole, halves = batch((0, 1)), [batch((0, 2)), batch((1, 2))]
    assert targets(halves[0], 0) | targets(halves[1], 15) == targets(whole, 0)
    assert halves[0].users[:15].tolist() == list(range(15))  # each its own seeds first
    assert halves[1].users[:15].tolist() == list(range(15, 30))
    for half in halves:
        to_users = _edges_of(half.blocks.to_user, half.movies, half.users)
        to_movies = _edges_of(half.blocks.to_movie, half.users, half.movies)
        assert not {(u, m) for m, u in to_users} & targets(whole, 0)
        assert not to_movies & targets(whole, 0)
