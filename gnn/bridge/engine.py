"""One served model version with everything a request needs, loaded once.

Built by gnn.bridge.serving on first use and on a swap: read the version's
latest serving arrays (gnn.ml.arrays; computed by the process that trained or
refreshed it) and the visible catalogue. No rating is read and no graph pass
runs here, and neither torch nor PyTorch Geometric is imported: a request
embeds one member from their features and rated movies in numpy and scores
every movie.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from catalog.models import Movie
from gnn.bridge import registry
from gnn.bridge.metadata import RefreshInfo, VersionMetadata
from gnn.bridge.snapshot import catalogue_stamp, user_table
from gnn.ml.arrays import MAX_AGE, UNKNOWN_GENDER_CODE, ServingArrays, prior_keys, unit_rows
from gnn.ml.features import Preprocessor
from gnn.ml.onboarding import Chooser, Member

log = logging.getLogger("gnn.inference")

LIKED = 4  # "because you rated X" only points at movies the member liked
# A reason is shown only when it is strong. "Because you rated X": X shares
# a genre with the movie and their embeddings are at least this close
# (cosine). The embeddings alone put Star Wars next to Toy Story (0.78 in a
# MovieLens 100K model; so does EASE: blockbusters of one era are rated
# together), which a person reads as a non sequitur. Half of a random movie's
# closest liked movies reach 0.53; half of a recommendation's, 0.84.
STRONG_BECAUSE = 0.8
# "Popular with women in their 30s": the movie's share of the likes of the
# member's prior group is at least 1.5 times its share among everyone.
GROUP_LIFT = math.log(1.5)


@dataclass(frozen=True)
class Engine:
    version: str
    metadata: VersionMetadata
    refresh: str  # the serving arrays' refresh stamp
    refresh_info: RefreshInfo  # what serving.json says about it
    preprocessor: Preprocessor
    arrays: ServingArrays
    movie_ids: np.ndarray  # row -> Movie pk
    movie_row: dict[int, int]  # Movie pk -> row
    unit_embeddings: np.ndarray  # final movie embeddings, L2-normalised
    catalogue_stamp: str  # see gnn.bridge.snapshot.catalogue_stamp
    built_seconds: float
    # The visible catalogue (genres prefetched), so that a cached list is
    # served without touching the database. Read-only: every request shares
    # these objects. Movies hidden since the arrays were computed are not here.
    movies: dict[int, Movie]
    hidden_rows: np.ndarray  # rows of movies not in ``movies``: never recommended
    chooser: Chooser  # what to ask a newcomer to rate (over ``movies`` only)
    shelves: Shelves  # each row's genres and decade, for filtered lists

    @property
    def cache_key(self) -> str:
        """Names what a cached list was computed from: the version, its refresh
        and the catalogue it saw (identical in every process)."""
        return f"{self.version}.{self.refresh}@{self.catalogue_stamp}"

    # --- per request ---------------------------------------------------------

    def _rated_rows(self, rated: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """(movie rows, values) of the member's ratings of movies the engine knows."""
        known = [(self.movie_row[m], v) for m, v in rated if m in self.movie_row]
        rows = np.array([r for r, _ in known], dtype=np.int64)
        return rows, np.array([v for _, v in known], dtype=np.int64)

    def _features(self, user) -> np.ndarray:
        return self.preprocessor.user_features(user_table([user]))[0]

    def _key(self, user) -> int:
        age = np.nan if user.age is None else float(user.age)
        return int(prior_keys([age], [user.gender or ""], self.arrays.age_mean)[0])

    def embed(self, user, rated: list[tuple[int, int]]) -> tuple[np.ndarray, float]:
        rows, values = self._rated_rows(rated)
        return self.arrays.embed(self._features(user), rows, values)

    def scores(self, user, rated) -> np.ndarray:
        """The ranking score of every movie row for this member."""
        rows, values = self._rated_rows(rated)
        return self.arrays.scores(self._features(user), rows, values, self._key(user))[0]

    def recommend(
        self, *, user, rated, exclude, k: int, genre: str | None = None, decade: int | None = None
    ) -> list[tuple]:
        """Top-k rows (movie pk, ranking score, predicted rating, because pk,
        match), of the movies of ``genre`` (slug) and ``decade`` only when
        given: the whole scored catalogue is filtered, so a rare genre still
        fills a page. The match is the percentage of the visible catalogue the
        movie ranks above for this member: it follows the list's order."""
        rows, values = self._rated_rows(rated)
        scores, zu, bu = self.arrays.scores(self._features(user), rows, values, self._key(user))
        visible = np.delete(scores, self.hidden_rows)  # before the filters below mark rows
        if genre is not None or decade is not None:
            scores[~self.shelves.mask(genre, decade)] = -np.inf
        blocked = [self.movie_row[m] for m in exclude if m in self.movie_row]
        if blocked:
            scores[np.array(blocked)] = -np.inf
        scores[self.hidden_rows] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        predicted = self.arrays.predicted_ratings(zu, bu, top)
        because = self._because(top, rated)
        group = self._group_liked(top, self._key(user))
        # Movies ranked below each: all but those at least as good, which are
        # among the few at least as good as the list's last (no sort of the
        # whole catalogue per request).
        chosen = scores[top]
        above = np.sort(visible[visible >= chosen[-1]])
        below = len(visible) - (len(above) - np.searchsorted(above, chosen, side="left"))
        match = np.floor(100.0 * below / max(len(visible) - 1, 1)).clip(0, 100).astype(int)
        return [
            (
                int(self.movie_ids[row]),
                float(scores[row]),
                round(float(p), 2),
                because[i],
                int(m),
                bool(group[i] and because[i] is None),
            )
            for i, (row, p, m) in enumerate(
                zip(top.tolist(), predicted.tolist(), match.tolist(), strict=True)
            )
        ]

    def explain(self, *, user, rated, movie_id: int) -> tuple[float, int, int | None, bool] | None:
        """One movie for one member, as a card would show it: (predicted
        rating, match, because pk or None, liked by the member's group).
        None for a movie the engine does not serve."""
        row = self.movie_row.get(movie_id)
        if row is None or movie_id not in self.movies:
            return None
        rows, values = self._rated_rows(rated)
        scores, zu, bu = self.arrays.scores(self._features(user), rows, values, self._key(user))
        visible = np.delete(scores, self.hidden_rows)
        match = int(np.floor(100.0 * (visible < scores[row]).sum() / max(len(visible) - 1, 1)))
        top = np.array([row])
        predicted = round(float(self.arrays.predicted_ratings(zu, bu, top)[0]), 2)
        because = self._because(top, rated)[0]
        group = because is None and self._group_liked(top, self._key(user))[0]
        return predicted, min(match, 100), because, bool(group)

    def _because(self, top: np.ndarray, rated) -> list[int | None]:
        """For each recommended movie, the liked movie of the member's that is
        closest to it in the model's movie embeddings: the rating that pulls it
        up most. One small matrix product, cheap for every request."""
        liked = [self.movie_row[m] for m, v in rated if v >= LIKED and m in self.movie_row]
        if not liked:
            return [None] * len(top)
        liked = np.array(liked)
        similarity = self.unit_embeddings[top] @ self.unit_embeddings[liked].T
        shares_genre = (self._genre_matrix[top] @ self._genre_matrix[liked].T) > 0
        similarity[~shares_genre] = -1.0
        best = similarity.argmax(axis=1)
        strong = similarity[np.arange(len(top)), best] >= STRONG_BECAUSE
        return [
            int(self.movie_ids[liked[b]]) if ok else None
            for b, ok in zip(best.tolist(), strong.tolist(), strict=True)
        ]

    @cached_property
    def _genre_matrix(self) -> np.ndarray:
        """[M, genres] float32, 1 where the row's movie has the genre."""
        columns = list(self.shelves.genres.values())
        if not columns:
            return np.zeros((len(self.movie_ids), 1), dtype=np.float32)
        return np.stack(columns, axis=1).astype(np.float32)

    @cached_property
    def _prior_everyone(self) -> np.ndarray | None:
        """log share of each movie among the likes of everyone aged 15 to 65
        (the prior's group of unknown gender, averaged over those ages)."""
        prior = self.arrays.prior
        if not len(prior):
            return None
        start = UNKNOWN_GENDER_CODE * (MAX_AGE + 1)
        return np.log(np.exp(prior[start + 15 : start + 66]).mean(axis=0))

    def _group_liked(self, top: np.ndarray, key: int) -> list[bool]:
        """For each movie, whether the member's prior group (gender and age)
        likes it clearly more than everyone does: a reason for a list that
        has no rating to point at."""
        everyone = self._prior_everyone
        if everyone is None:
            return [False] * len(top)
        lift = self.arrays.prior[key, top] - everyone[top]
        return (lift >= GROUP_LIFT).tolist()

    def to_ask(self, *, user, rated, blocked, n: int, on_screen=()) -> list[int]:
        """Up to ``n`` movie pks to ask the member to rate next, best first
        (gnn.ml.onboarding); never one of ``blocked``, nor of ``on_screen``
        (the ones still asked), which the choice is spread away from."""
        rows, values = self._rated_rows(rated)
        member = Member(self._features(user), self._key(user), rows.tolist(), values.tolist())
        known = self.movie_row
        screen = [known[m] for m in on_screen if m in known]
        blocked_rows = [known[m] for m in blocked if m in known]
        chosen = self.chooser.page(member, [*blocked_rows, *screen, *rows.tolist()], n, screen)
        return [int(self.movie_ids[row]) for row in chosen]

    def similar(self, movie_id: int, k: int) -> list[int]:
        row = self.movie_row.get(movie_id)
        if row is None:
            return []
        similarity = self.unit_embeddings @ self.unit_embeddings[row]
        similarity[row] = -np.inf
        k = min(k, len(similarity) - 1)
        if k <= 0:
            return []
        top = np.argpartition(-similarity, k - 1)[:k]
        top = top[np.argsort(-similarity[top], kind="stable")]
        return [int(self.movie_ids[r]) for r in top.tolist()]

    def with_catalogue(self) -> Engine:
        """The same arrays with the catalogue as it is now (curators' changes:
        a hidden movie leaves at once; one added waits for the next refresh)."""
        stamp = catalogue_stamp()
        movies = _visible_catalogue()
        return dataclasses.replace(
            self,
            catalogue_stamp=stamp,
            movies=movies,
            hidden_rows=_hidden(self.movie_ids, movies),
            chooser=_chooser(self.arrays, self.movie_ids, movies, self.unit_embeddings),
            shelves=Shelves.of(self.movie_ids, movies),
        )


@dataclass(frozen=True)
class Shelves:
    """Which rows are of each genre and decade (visible movies only)."""

    genres: dict[str, np.ndarray]  # slug -> bool [M]
    genre_names: dict[str, str]  # slug -> name, in catalogue order
    decades: np.ndarray  # [M] the decade's first year, -1 when unknown

    @classmethod
    def of(cls, movie_ids: np.ndarray, movies: dict[int, Movie]) -> Shelves:
        n = len(movie_ids)
        genres: dict[str, np.ndarray] = {}
        found = {}
        decades = np.full(n, -1, dtype=np.int64)
        for row, pk in enumerate(movie_ids.tolist()):
            movie = movies.get(pk)
            if movie is None:
                continue
            if movie.year:
                decades[row] = movie.year // 10 * 10
            for genre in movie.genres.all():
                found[genre.slug] = (genre.position, genre.name)
                genres.setdefault(genre.slug, np.zeros(n, dtype=bool))[row] = True
        names = {slug: name for slug, (_, name) in sorted(found.items(), key=lambda i: i[1][0])}
        return cls(genres, names, decades)

    def mask(self, genre: str | None, decade: int | None) -> np.ndarray:
        keep = np.ones(len(self.decades), dtype=bool)
        if genre is not None:
            keep &= self.genres.get(genre, np.zeros(len(keep), dtype=bool))
        if decade is not None:
            keep &= self.decades == decade
        return keep

    def decade_list(self) -> list[int]:
        return sorted({int(d) for d in self.decades.tolist() if d >= 0})


def _visible_catalogue() -> dict[int, Movie]:
    return {m.pk: m for m in Movie.objects.visible().prefetch_related("genres")}


def _hidden(movie_ids: np.ndarray, movies: dict[int, Movie]) -> np.ndarray:
    return np.flatnonzero([int(m) not in movies for m in movie_ids.tolist()]).astype(np.int64)


def _chooser(arrays, movie_ids: np.ndarray, movies: dict[int, Movie], unit) -> Chooser:
    """The onboarding chooser over the visible catalogue, its candidates the
    most-rated movies by today's counts."""
    counts = np.array(
        [movies[m].rating_count if m in movies else 0 for m in movie_ids.tolist()], dtype=np.float64
    )
    allowed = np.array([m in movies for m in movie_ids.tolist()], dtype=bool)
    return Chooser(arrays, counts, allowed, unit=unit)


def build_engine(models_dir, version: str) -> Engine:
    """Load and verify ``version``'s latest serving arrays; raises on failure."""
    started = time.perf_counter()
    loaded, serving = registry.load_serving(models_dir, version)
    try:
        preprocessor = Preprocessor(loaded.preprocessor)
    except (KeyError, TypeError, ValueError) as exc:
        raise registry.ModelVersionError(f"version {version} is incompatible: {exc}") from None
    arrays = serving.arrays
    if preprocessor.n_user_features != arrays.user_in1_w.shape[1]:
        raise registry.ModelVersionError(
            f"version {version} is incompatible: its arrays expect "
            f"{arrays.user_in1_w.shape[1]} user features, its preprocessor gives "
            f"{preprocessor.n_user_features}"
        )
    ids = arrays.movie_ids
    stamp = catalogue_stamp()
    movies = _visible_catalogue()
    unit = unit_rows(arrays.movies)
    engine = Engine(
        version=version,
        metadata=loaded.metadata,
        refresh=serving.refresh,
        refresh_info=serving.info,
        preprocessor=preprocessor,
        arrays=arrays,
        movie_ids=ids,
        movie_row={int(m): i for i, m in enumerate(ids.tolist())},
        unit_embeddings=unit,
        catalogue_stamp=stamp,
        built_seconds=0.0,
        movies=movies,
        hidden_rows=_hidden(ids, movies),
        chooser=_chooser(arrays, ids, movies, unit),
        shelves=Shelves.of(ids, movies),
    )
    engine = dataclasses.replace(engine, built_seconds=time.perf_counter() - started)
    log.info(
        "model version %s (refresh %s) ready: %d movies, %.0f MiB of arrays, loaded in %.2f s",
        version, serving.refresh, len(ids), arrays.nbytes / 2**20, engine.built_seconds,
    )  # fmt: skip
    return engine
