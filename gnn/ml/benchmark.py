"""The literature's protocols on MovieLens 100K files, independent of the database.

- W (warm): train on the canonical uN.base, test on uN.test;
- C (cold start): a seeded 20% of users held out entirely, the model trained
  on all ratings of the others; held-out users ranked from demographics;
- C+k: the same users with their k earliest ratings revealed at serving time;
- C+k random: the same with k random ratings of theirs revealed.

Cold-start protocols run on several seeded holdouts, the warm one with
several training seeds when asked; every figure comes with its spread and
every floor with its paired difference to the model.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from core import movielens
from gnn.ml import evaluation, onboarding, protocols
from gnn.ml.arrays import prior_keys
from gnn.ml.data import (
    Dataset,
    Movies,
    Ratings,
    Users,
    random_k,
    remap_users,
    restrict_to_users,
)
from gnn.ml.features import GENRE_COUNT
from gnn.ml.inference import serving_arrays
from gnn.ml.network import Config
from gnn.ml.onboarding import (
    Chooser,
    Member,
    PopularPanel,
    Settings,
    halves,
    rating_entropy,
    simulate,
)
from gnn.ml.training import train

COLD_SHARE = 0.2
COLD_SEED = 0


def _read_ratings(path: Path) -> np.ndarray:
    return np.loadtxt(path, dtype=np.int64, delimiter="\t", ndmin=2).reshape(-1, 4)


def load_grouplens(directory: Path) -> tuple[Users, Movies, dict[int, int], dict[int, int]]:
    """Users and movies of a GroupLens directory, read by the import's own parser."""
    files = movielens.read_directory(Path(directory))
    people = sorted(movielens.parse_users(files), key=lambda u: u.movielens_id)
    users = Users(
        ids=np.array([u.movielens_id for u in people], dtype=np.int64),
        age=np.array([float(u.age) for u in people]),
        gender=[u.gender for u in people],
        occupation=[u.occupation for u in people],
        zip_code=[u.zip_code for u in people],
    )
    films = sorted(movielens.parse_movies(files), key=lambda m: m.movielens_id)
    genres = np.zeros((len(films), GENRE_COUNT), dtype=np.float32)
    for row, film in enumerate(films):
        genres[row, list(film.genre_positions)] = 1.0
    movies = Movies(
        ids=np.array([m.movielens_id for m in films], dtype=np.int64),
        year=np.array([float("nan") if m.year is None else float(m.year) for m in films]),
        genres=genres,
    )
    user_index = {int(u): i for i, u in enumerate(users.ids)}
    movie_index = {int(m): i for i, m in enumerate(movies.ids)}
    return users, movies, user_index, movie_index


def _ratings(rows: np.ndarray, user_index, movie_index) -> Ratings:
    return Ratings(
        user=np.array([user_index[u] for u in rows[:, 0]], dtype=np.int64),
        movie=np.array([movie_index[m] for m in rows[:, 1]], dtype=np.int64),
        value=rows[:, 2].copy(),
        time=rows[:, 3].copy(),
    )


def _sd(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


SPREAD_METRICS = ("ndcg_at_10", "precision_at_10", "rmse")


def summarise(runs: list[dict], key: str) -> dict:
    """Several runs of one protocol (holdouts or training seeds) as one block:
    each method's figures averaged, the spread of the main ones
    (``<metric>_sd``), each floor's paired difference to the model
    (``paired.<floor>``: mean and sd of model minus floor, run by run) and the
    runs themselves under ``key``."""
    methods = [m for m, v in runs[0].items() if isinstance(v, dict) and "ndcg_at_10" in v]
    block: dict = {}
    for method in methods:
        per_run = [run[method] for run in runs]
        merged = {}
        for metric, first in per_run[0].items():
            if isinstance(first, int | float):
                values = [float(r[metric]) for r in per_run]
                merged[metric] = round(float(np.mean(values)), 4)
                if metric in SPREAD_METRICS:
                    merged[f"{metric}_sd"] = round(_sd(values), 4)
        block[method] = merged
    if "model" in methods:
        block["paired"] = {}
        for floor in methods:
            if floor == "model":
                continue
            gaps = [run["model"]["ndcg_at_10"] - run[floor]["ndcg_at_10"] for run in runs]
            block["paired"][floor] = {
                "ndcg_at_10_mean": round(float(np.mean(gaps)), 4),
                "ndcg_at_10_sd": round(_sd(gaps), 4),
            }
    block[key] = runs
    return block


def run_warm(directory: Path, fold: int, cfg: Config, training_seeds: int = 1) -> dict:
    """The canonical uN.base/uN.test split, the model trained ``training_seeds``
    times (seeds cfg.seed, cfg.seed + 1, ...); the floors, which do not depend
    on the seed, are fitted once."""
    users, movies, user_index, movie_index = load_grouplens(directory)
    base = _ratings(_read_ratings(Path(directory) / f"u{fold}.base"), user_index, movie_index)
    test = _ratings(_read_ratings(Path(directory) / f"u{fold}.test"), user_index, movie_index)
    dataset = Dataset(users, movies, base)
    floors = None
    runs, seconds, steps = [], [], []
    for offset in range(training_seeds):
        trained = train(dataset, replace(cfg, seed=cfg.seed + offset), show_bar=True)
        floors = floors or protocols.floors_for(trained)
        run = protocols.evaluate_warm(trained, test, floors)
        run["model_chosen"] = trained.chosen
        runs.append(run)
        seconds.append(trained.seconds)
        steps.append(trained.best_step)
    result = summarise(runs, "seeds")
    result["chosen"] = runs[0]["chosen"]
    result["training_seconds"] = round(float(np.mean(seconds)), 1)
    result["best_step"] = steps[0] if len(steps) == 1 else steps
    return result


def cold_holdout(n_users: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded 20% of the users held out entirely, and the others (rows)."""
    order = np.random.default_rng(seed).permutation(n_users)
    held_rows = np.sort(order[: int(COLD_SHARE * n_users)])
    return held_rows, np.setdiff1d(np.arange(n_users), held_rows)


# The new-member protocols by the benchmark's own names.
COLD_KEYS = {"cold": "c0", "first_5": "c5", "random_5": "c5_random"}


def run_cold(directory: Path, cfg: Config, holdouts: int = 5) -> dict:
    """New members on ``holdouts`` random 20% user holdouts (holdout seeds
    0..K-1, apart from the training seed): the model is trained without the
    held-out users, then every method ranks the same held-out users, from
    their profile alone (c0), after their 5 earliest ratings (c5) and after 5
    random ones (c5_random)."""
    users, movies, user_index, movie_index = load_grouplens(directory)
    everything = _ratings(_read_ratings(Path(directory) / "u.data"), user_index, movie_index)
    per_protocol: dict[str, list[dict]] = {key: [] for key in COLD_KEYS.values()}
    seconds = []
    for holdout in range(holdouts):
        held_rows, kept_rows = cold_holdout(len(users), COLD_SEED + holdout)
        dataset = restrict_to_users(Dataset(users, movies, everything), kept_rows)
        started = time.perf_counter()
        trained = train(dataset, cfg, show_bar=True)
        seconds.append(time.perf_counter() - started)
        held = users.take(held_rows)
        held_ratings = remap_users(everything, held_rows, len(users))
        results = protocols.evaluate_all_new_members(trained, held, held_ratings)
        for name, key in COLD_KEYS.items():
            per_protocol[key].append({**results[name], "model_chosen": trained.chosen})
    out = {key: summarise(runs, "holdouts") for key, runs in per_protocol.items()}
    out["training_seconds"] = round(float(np.mean(seconds)), 1)
    out["holdouts"] = holdouts
    return out


# --- Onboarding: which movies to ask a newcomer ------------------------------------

HALVES_SEED = 0
ONBOARDING_METHODS = ("popular_panel", "chooser", "chooser_refill", "random_5")
VALIDATION_HOLDOUT = 10  # the holdout seeds the chooser's settings were chosen on start here
# The candidates tried there (each also with a refill after every answer).
ONBOARDING_VARIANTS = {
    "seen": Settings(seen_power=1, liked_power=0, spread=0),
    "seen_spread": Settings(seen_power=1, liked_power=0),
    "seen_moves_list": Settings(seen_power=1, liked_power=0, change_power=1, spread=0),
    "moves_list": Settings(seen_power=0, liked_power=0, change_power=1, spread=0),
    "seen_entropy": Settings(seen_power=1, liked_power=0, entropy_power=1),
    "pop_entropy": Settings(personal=False, seen_power=1, liked_power=0, entropy_power=1, spread=0),
    "seen_squared_liked": Settings(seen_power=2),
    "chooser": Settings(),
}


def _onboarding_report(sessions, arrays, features, keys, relevant) -> dict:
    """Rank every held user from what their onboarding revealed; NDCG@10 etc.
    on the test half, and how many pages and ratings it took."""
    scores = np.stack(
        [
            arrays.scores(
                features[u], np.array(s.rated_rows, dtype=np.int64),
                np.array(s.rated_values, dtype=np.int64), int(keys[u]),
            )[0]
            for u, s in enumerate(sessions)
        ]
    )  # fmt: skip
    exclude = [np.array(s.rated_rows, dtype=np.int64) for s in sessions]
    ranked = evaluation.top_k(scores, exclude)
    counted = [u for u, items in enumerate(relevant) if len(items)]
    ratings = np.array([len(sessions[u].rated_rows) for u in counted])
    return {
        **evaluation.ranking_metrics(ranked, relevant).as_dict(),
        "pages": round(float(np.mean([sessions[u].pages for u in counted])), 3),
        "ratings": round(float(ratings.mean()), 3),
        "reached_5": round(float((ratings >= 5).mean()), 3),
    }


def onboarding_holdout(
    trained, held: Users, held_ratings: Ratings, variants: dict | None = None
) -> dict:
    """The onboarding measure on one holdout (gnn.ml.onboarding): today's
    popular panel, the chooser (one entry per named Settings in ``variants``)
    and 5 random revealable ratings, over the same halves."""
    age_mean = trained.preprocessor.state["age_mean"]
    arrays = serving_arrays(trained.model, trained.cache(), trained.movies.ids, age_mean)
    n_movies, n_held = len(trained.movies), len(held)
    seen = trained.ratings
    counts = np.bincount(seen.movie, minlength=n_movies)
    liked = np.bincount(seen.movie[seen.value >= 4], minlength=n_movies)
    features = trained.preprocessor.user_features(held)
    keys = prior_keys(held.age, held.gender, age_mean)
    mask = halves(held_ratings.user, held_ratings.movie, HALVES_SEED)
    shown, test = held_ratings.take(mask), held_ratings.take(~mask)
    relevant = evaluation.relevant_items(test.user, test.movie, test.value, n_held)
    revealable = [{} for _ in range(n_held)]
    for u, m, v in zip(shown.user.tolist(), shown.movie.tolist(), shown.value.tolist()):  # noqa: B905
        revealable[u][m] = v

    def run(choose, refill=False) -> list:
        return [
            simulate(choose, Member(features[u], int(keys[u])), revealable[u], refill=refill)
            for u in range(n_held)
        ]

    entropy = rating_entropy(seen.movie, seen.value, n_movies)
    methods = {"popular_panel": run(PopularPanel(liked).page)}
    for name, settings in (variants or {"chooser": Settings()}).items():
        chooser = Chooser(arrays, counts, settings=settings, entropy=entropy)
        methods[name] = run(chooser.page)
        methods[f"{name}_refill"] = run(chooser.page, refill=True)
    picked, _ = random_k(shown, 5)
    methods["random_5"] = []
    for u in range(n_held):
        own = picked.user == u
        rows, values = picked.movie[own].tolist(), picked.value[own].tolist()
        methods["random_5"].append(onboarding.Session(rows, values, 0, rows))
    result = {
        name: _onboarding_report(sessions, arrays, features, keys, relevant)
        for name, sessions in methods.items()
    }
    result["test_half"] = {"ratings": len(test), "relevant": int(sum(map(len, relevant)))}
    return result


def run_onboarding(
    directory: Path, cfg: Config, holdouts: int = 5, first: int = 0, variants: dict | None = None
) -> dict:
    """The onboarding measure on the cold-start protocol's holdouts (seeds
    first..first+K-1: 0..4 are the reported ones, later seeds are for choosing
    the chooser's settings): the model trained without the held-out users,
    their ratings split once into a revealable and a test half."""
    users, movies, user_index, movie_index = load_grouplens(directory)
    everything = _ratings(_read_ratings(Path(directory) / "u.data"), user_index, movie_index)
    runs = []
    for holdout in range(first, first + holdouts):
        held_rows, kept_rows = cold_holdout(len(users), COLD_SEED + holdout)
        trained = train(restrict_to_users(Dataset(users, movies, everything), kept_rows), cfg)
        held_ratings = remap_users(everything, held_rows, len(users))
        runs.append(onboarding_holdout(trained, users.take(held_rows), held_ratings, variants))
    names = [name for name in runs[0] if name != "test_half"]
    out: dict = {"holdouts": runs, "first_holdout": first}
    for name in names:
        block = {}
        for metric in ("ndcg_at_10", "precision_at_10", "pages", "ratings", "reached_5"):
            values = [float(run[name][metric]) for run in runs]
            block[metric] = round(float(np.mean(values)), 4)
            block[f"{metric}_sd"] = round(_sd(values), 4)
        out[name] = block
    out["paired"] = {}
    for name in names:
        if name == "popular_panel":
            continue
        gaps = [run[name]["ndcg_at_10"] - run["popular_panel"]["ndcg_at_10"] for run in runs]
        pages = [run[name]["pages"] - run["popular_panel"]["pages"] for run in runs]
        out["paired"][name] = {
            "ndcg_at_10_mean": round(float(np.mean(gaps)), 4),
            "ndcg_at_10_sd": round(_sd(gaps), 4),
            "pages_mean": round(float(np.mean(pages)), 3),
            "pages_sd": round(_sd(pages), 3),
        }
    return out
