"""Evaluation protocols, each figure reported beside its floors.

- warm: users in the training graph, held-out ratings of theirs as the test;
- cold: users held out entirely, ranked from demographics alone;
- first ratings (C+k): the same held-out users with their k earliest ratings
  given to the model at serving time, without retraining; ranked over the rest.

Relevant = held-out ratings of 4 or 5. Floors: item popularity and a
user+item bias model, and for new users popularity within their demographic
group, computed on the same split so that a weak figure shows as weak.
"""

from __future__ import annotations

import numpy as np
import torch

from gnn.ml import evaluation
from gnn.ml.data import Ratings, Users
from gnn.ml.inference import embed_users, predicted_ratings, rank_scores
from gnn.ml.training import TrainedModel, warm_metrics


def _ranking(scores: np.ndarray, exclude, relevant) -> dict:
    return evaluation.ranking_metrics(evaluation.top_k(scores, exclude), relevant).as_dict()


def evaluate_warm(trained: TrainedModel, test: Ratings) -> dict:
    """Metrics of the model and its floors on ratings unseen in training."""
    n_users, n_movies = len(trained.users), len(trained.movies)
    seen = trained.ratings
    cache = trained.cache()
    model = warm_metrics(trained.model, cache, seen, test, n_users)

    users = np.unique(test.user)
    seen_by_user = evaluation.items_by_user(seen.user, seen.movie, n_users)
    exclude = [seen_by_user[u] for u in users]
    relevant_all = evaluation.relevant_items(test.user, test.movie, test.value, n_users)
    relevant = [relevant_all[u] for u in users]

    popularity = evaluation.popularity_scores(seen.movie, seen.value, n_movies)
    bias = evaluation.BiasModel.fit(seen.user, seen.movie, seen.value, n_users, n_movies)
    return {
        "model": model,
        "popularity": _ranking(np.tile(popularity, (len(users), 1)), exclude, relevant),
        "bias": {
            "rmse": round(evaluation.rmse(bias.predict(test.user, test.movie), test.value), 4),
            **_ranking(np.tile(bias.item_bias, (len(users), 1)), exclude, relevant),
        },
    }


def evaluate_new_users(trained: TrainedModel, held: Users, given: Ratings, test: Ratings) -> dict:
    """``held`` users absent from training; ``given`` their ratings revealed at
    serving time (user = row in ``held``), ``test`` the rest."""
    n_held, n_movies = len(held), len(trained.movies)
    cache = trained.cache()
    zu, bu = embed_users(
        trained.model,
        cache,
        trained.preprocessor.user_features(held),
        torch.as_tensor(given.user),
        torch.as_tensor(given.movie),
        torch.as_tensor(given.value),
    )
    scores = rank_scores(cache, zu).numpy()
    exclude = evaluation.items_by_user(given.user, given.movie, n_held)
    relevant = evaluation.relevant_items(test.user, test.movie, test.value, n_held)
    predictions = predicted_ratings(trained.model, cache, zu, bu)
    predicted = predictions[torch.as_tensor(test.user), torch.as_tensor(test.movie)].numpy()
    model = {
        "rmse": round(evaluation.rmse(predicted, test.value), 4),
        **_ranking(scores, exclude, relevant),
    }

    seen = trained.ratings
    n_train_users = len(trained.users)
    popularity = evaluation.popularity_scores(seen.movie, seen.value, n_movies)
    bias = evaluation.BiasModel.fit(seen.user, seen.movie, seen.value, n_train_users, n_movies)
    given_by_user = evaluation.items_by_user(given.user, given.movie, n_held)
    values_by_user = evaluation.items_by_user(given.user, given.value, n_held)
    held_bias = np.array(
        [bias.user_bias_from(given_by_user[u], values_by_user[u]) for u in range(n_held)]
    )
    bias_predicted = bias.mean + held_bias[test.user] + bias.item_bias[test.movie]
    train_groups = evaluation.demographic_groups(trained.users.age, trained.users.gender)
    held_groups = evaluation.demographic_groups(held.age, held.gender)
    group_scores = evaluation.group_popularity_scores(
        seen.user, seen.movie, seen.value, np.r_[train_groups, held_groups], n_movies
    )
    return {
        "model": model,
        "popularity": _ranking(np.tile(popularity, (n_held, 1)), exclude, relevant),
        "bias": {
            "rmse": round(evaluation.rmse(bias_predicted, test.value), 4),
            **_ranking(np.tile(bias.item_bias, (n_held, 1)), exclude, relevant),
        },
        "group_popularity": _ranking(group_scores[held_groups], exclude, relevant),
    }


def earliest(ratings: Ratings, k: int) -> tuple[Ratings, Ratings]:
    """Each user's k earliest ratings (by time, then movie), and the rest."""
    first = ratings.rank_in_user_history() < k
    return ratings.take(first), ratings.take(~first)
