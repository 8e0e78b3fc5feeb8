"""Evaluation protocols, each figure reported beside its floors.

- warm: users in the training graph, held-out ratings of theirs as the test;
- cold: users held out entirely, ranked from demographics alone;
- first ratings (C+k): the same held-out users with their k earliest ratings
  given to the model at serving time, without retraining; ranked over the rest;
- random ratings: the same with k of their ratings drawn at random (seeded per
  user). New members' earliest ratings are nearly always one sign-up session
  of well-known titles, where every method ties popularity; random ones are
  where what a method learns from a few ratings shows.

Relevant = held-out ratings of 4 or 5. The floors (gnn.ml.floors) are fitted
on the same training data. Every method's top-10 lists are also described
beyond accuracy: coverage, mean popularity rank and personalisation.

At most EVALUATED_MEMBERS members are evaluated per protocol (a seeded
sample beyond that), and every method's scores are made a block of members
at a time: the evaluation's memory does not grow with members x movies.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from gnn.ml import evaluation
from gnn.ml.data import RANDOM_SEED, Ratings, Users, earliest, random_k, remap_users, sample_rows
from gnn.ml.floors import Floors, Reveal
from gnn.ml.inference import MovieCache, batch_scores, embed_users
from gnn.ml.network import prior_keys
from gnn.ml.training import TrainedModel, warm_rmse

# Members evaluated per protocol, at most (a seeded sample beyond): the
# figures' spread over members is already small at a few thousand.
EVALUATED_MEMBERS = 10_000
SAMPLE_SEED = 4242


def _for_all(scores: np.ndarray, n_rows: int) -> np.ndarray:
    """One score per movie, the same for every member: a read-only view, not
    a copy per member (at a million ratings each copy is 170 MB)."""
    return np.broadcast_to(scores, (n_rows, len(scores)))


def _report(ranked: np.ndarray, relevant, rating_counts: np.ndarray) -> dict:
    """Ranking metrics and beyond-accuracy figures over the users with at
    least one relevant item (the ones the ranking metrics average over)."""
    keep = [row for row, items in enumerate(relevant) if len(items)]
    return {
        **evaluation.ranking_metrics(ranked, relevant).as_dict(),
        **evaluation.beyond_accuracy(ranked[keep], rating_counts),
    }


def _ranking(scores: evaluation.Scores, exclude, relevant, rating_counts: np.ndarray) -> dict:
    return _report(evaluation.top_k(scores, exclude), relevant, rating_counts)


def floors_for(trained: TrainedModel) -> Floors:
    """The floors of the model's own training data; EASE over the movies the
    model's item-item channel may cover."""
    cfg = trained.model.cfg
    return Floors(trained.users, trained.ratings, len(trained.movies), ease_movies=cfg.ease_movies)


class _ByRow:
    """Ratings whose users are rows 0..n-1 of a batch, cut a block of rows at
    a time (users renumbered from the block's first row)."""

    def __init__(self, ratings: Ratings):
        self.ratings = ratings.take(np.argsort(ratings.user, kind="stable"))

    def block(self, start: int, stop: int) -> Ratings:
        lo, hi = np.searchsorted(self.ratings.user, [start, stop])
        part = self.ratings.take(slice(lo, hi))
        part.user = part.user - start
        return part


def _model_scores(cache: MovieCache, zu: torch.Tensor, ratings: Ratings, keys: np.ndarray):
    """evaluation.Scores of the model for members with embeddings ``zu``
    (row = member), their ratings (user = row) and demographic prior keys."""
    by_row = _ByRow(ratings)
    t = torch.as_tensor

    def rows(start: int, stop: int) -> np.ndarray:
        part = by_row.block(start, stop)
        return batch_scores(
            cache, zu[start:stop], t(part.user), t(part.movie), t(part.value), keys[start:stop]
        ).numpy()

    return rows


def evaluate_warm(trained: TrainedModel, test: Ratings, floors: Floors | None = None) -> dict:
    """Metrics of the model and its floors on ratings unseen in training."""
    floors = floors or floors_for(trained)
    n_users = len(trained.users)
    seen = trained.ratings
    counts = floors.rating_counts
    cache = trained.cache()

    users = sample_rows(np.unique(test.user), EVALUATED_MEMBERS, SAMPLE_SEED)
    test = test.take(np.isin(test.user, users))
    seen_by_user = evaluation.items_by_user(seen.user, seen.movie, n_users)
    exclude = [seen_by_user[u] for u in users]
    relevant_all = evaluation.relevant_items(test.user, test.movie, test.value, n_users)
    relevant = [relevant_all[u] for u in users]

    # The evaluated users only, as rows 0..len(users)-1 of a batch.
    theirs = remap_users(seen.take(np.isin(seen.user, users)), users, n_users)
    age_mean = trained.preprocessor.state["age_mean"]
    groups = prior_keys(trained.users.age, trained.users.gender, age_mean)[users]
    model_scores = _model_scores(cache, cache.users[torch.as_tensor(users)], theirs, groups)
    rmse = warm_rmse(trained.model, cache, test)
    bias = floors.bias
    return {
        "model": {"rmse": rmse, **_ranking(model_scores, exclude, relevant, counts)},
        "popularity": _ranking(
            _for_all(floors.popularity, len(users)),
            exclude,
            relevant,
            counts,
        ),
        "bias": {
            "rmse": round(evaluation.rmse(bias.predict(test.user, test.movie), test.value), 4),
            **_ranking(
                _for_all(bias.item_bias, len(users)),
                exclude,
                relevant,
                counts,
            ),
        },
        "ease": _ranking(floors.ease_warm_scores(users), exclude, relevant, counts),
        "chosen": {"ease_lambda": floors.warm_lambda()},
    }


def evaluate_new_users(
    trained: TrainedModel,
    held: Users,
    held_ratings: Ratings,
    reveal: Reveal,
    name: str,
    floors: Floors | None = None,
    *,
    keep_lists: bool = False,
) -> dict:
    """``held`` users absent from training with all their ratings (user = row
    in ``held``); ``reveal`` splits those into the ones given at serving time
    and the rest, which are ranked. ``name`` keys the floors' validated
    choices for this way of revealing. ``keep_lists`` adds every method's
    top-10 lists (row = held user) under ``lists``, for inspection."""
    floors = floors or floors_for(trained)
    held, held_ratings = _sample(held, held_ratings)
    given, test = reveal(held_ratings)
    n_held = len(held)
    counts = floors.rating_counts
    exclude = evaluation.items_by_user(given.user, given.movie, n_held)
    relevant = evaluation.relevant_items(test.user, test.movie, test.value, n_held)
    held_groups = evaluation.demographic_groups(held.age, held.gender)

    scores, rmse = _model_on_new_members(trained, held, given, test)
    method_scores = {
        "model": scores,
        "popularity": _for_all(floors.popularity, n_held),
        "group_popularity": lambda start, stop: floors.group_scores(held_groups[start:stop]),
    }
    result = {
        "model": {"rmse": rmse, **_ranking(scores, exclude, relevant, counts)},
        "popularity": _ranking(method_scores["popularity"], exclude, relevant, counts),
        "bias": _bias_on_new_members(floors, given, test, n_held, exclude, relevant),
        "group_popularity": _ranking(method_scores["group_popularity"], exclude, relevant, counts),
        "chosen": {"group_smoothing": floors.group_smoothing()},
    }
    if len(given):  # EASE needs ratings to fold in; from a profile alone it has none
        ease = floors.ease_few_shot_scores(name, reveal, given, held_groups, n_held)
        result["ease"] = _ranking(ease, exclude, relevant, counts)
        lam, beta = floors.few_shot_choice(name, reveal)
        result["chosen"].update(ease_lambda=lam, ease_beta=beta)
        method_scores["ease"] = ease
    if keep_lists:
        result["lists"] = {m: evaluation.top_k(v, exclude) for m, v in method_scores.items()}
    return result


def _sample(held: Users, held_ratings: Ratings) -> tuple[Users, Ratings]:
    """At most EVALUATED_MEMBERS of the held members (a seeded sample)."""
    rows = sample_rows(np.arange(len(held)), EVALUATED_MEMBERS, SAMPLE_SEED)
    if len(rows) == len(held):
        return held, held_ratings
    return held.take(rows), remap_users(held_ratings, rows, len(held))


def _model_on_new_members(
    trained: TrainedModel, held: Users, given: Ratings, test: Ratings
) -> tuple[evaluation.Scores, float]:
    """The model's ranking scores of every movie for the held members, from
    their profile and given ratings, and its RMSE on the rest."""
    cache = trained.cache()
    t = torch.as_tensor
    zu, bu = embed_users(
        trained.model,
        cache,
        torch.from_numpy(trained.preprocessor.user_features(held)),
        t(given.user),
        t(given.movie),
        t(given.value),
    )
    keys = prior_keys(held.age, held.gender, trained.preprocessor.state["age_mean"])
    rmse = warm_rmse(trained.model, cache, test, zu, bu)
    return _model_scores(cache, zu, given, keys), rmse


def _bias_on_new_members(
    floors: Floors, given: Ratings, test: Ratings, n_held: int, exclude, relevant
) -> dict:
    """The user + item bias floor: each member's bias folded in from their
    given ratings."""
    bias = floors.bias
    given_by_user = evaluation.items_by_user(given.user, given.movie, n_held)
    values_by_user = evaluation.items_by_user(given.user, given.value, n_held)
    held_bias = np.array(
        [bias.user_bias_from(given_by_user[u], values_by_user[u]) for u in range(n_held)]
    )
    predicted = bias.mean + held_bias[test.user] + bias.item_bias[test.movie]
    return {
        "rmse": round(evaluation.rmse(predicted, test.value), 4),
        **_ranking(_for_all(bias.item_bias, n_held), exclude, relevant, floors.rating_counts),
    }


def reveal_earliest(k: int) -> Reveal:
    return partial(earliest, k=k)


def reveal_random(k: int, seed: int = RANDOM_SEED) -> Reveal:
    return partial(random_k, k=k, seed=seed)


# The new-member protocols: (name in the metrics, how the given ratings are chosen).
NEW_MEMBER_PROTOCOLS = (
    ("cold", reveal_earliest(0)),
    ("first_5", reveal_earliest(5)),
    ("random_5", reveal_random(5)),
)


def evaluate_all_new_members(
    trained: TrainedModel, held: Users, held_ratings: Ratings, floors: Floors | None = None
) -> dict:
    floors = floors or floors_for(trained)
    # The EASE floor's choices for every protocol at once: one fit per λ.
    floors.few_shot_choices({name: reveal for name, reveal in NEW_MEMBER_PROTOCOLS})
    return {
        name: evaluate_new_users(trained, held, held_ratings, reveal, name, floors)
        for name, reveal in NEW_MEMBER_PROTOCOLS
    }
