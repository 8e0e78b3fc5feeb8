"""The bipartite user-movie graph the network runs on, from a Dataset."""

from __future__ import annotations

import torch
from torch_geometric.data import HeteroData

from gnn.ml.data import Dataset
from gnn.ml.features import Preprocessor


def build_graph(dataset: Dataset, preprocessor: Preprocessor) -> HeteroData:
    """The bipartite graph: one edge per rating in both directions, the rating
    (1..5) as edge attribute, features on both node types."""
    graph = HeteroData()
    graph["user"].x = torch.from_numpy(preprocessor.user_features(dataset.users))
    graph["user"].ids = torch.as_tensor(dataset.users.ids)
    graph["movie"].x = torch.from_numpy(preprocessor.movie_features(dataset.movies))
    graph["movie"].ids = torch.as_tensor(dataset.movies.ids)
    graph["movie"].rows = torch.as_tensor(preprocessor.movie_rows(dataset.movies.ids))
    users = torch.as_tensor(dataset.ratings.user)
    movies = torch.as_tensor(dataset.ratings.movie)
    values = torch.as_tensor(dataset.ratings.value)
    graph["user", "rates", "movie"].edge_index = torch.stack([users, movies])
    graph["user", "rates", "movie"].edge_attr = values
    graph["movie", "rated_by", "user"].edge_index = torch.stack([movies, users])
    graph["movie", "rated_by", "user"].edge_attr = values
    return graph
