"""Which movies to ask a newcomer to rate, and the offline measure of it.

The chooser works in the serving arrays' movie rows (gnn.ml.arrays), numpy
only, so a web process runs it between two answers. For each well-known
movie it weighs:

- how likely this member has seen it: the model's ranking head is trained
  to predict which movies a member rates, so its softmax over the
  candidates, from what the member told so far, is that chance (their
  profile alone on the first page);
- how much the answer would move this member's list: the member is
  re-embedded with the movie rated high and rated low, and the change of
  the predicted distribution over the catalogue (total variation), each
  weighted by the predicted rating, is the expected change;
- spread: a movie close (in the model's movie embeddings) to one already on
  the page counts less, so a page covers several tastes.

The measure (``simulate``) replays held-out members against a chooser: each
member's ratings are split once into a half the simulation may reveal and a
half kept for testing; a page shows ``page_size`` movies, the member rates
those in the revealable half with their true value and says "haven't seen"
to the rest, until ``target`` ratings or ``max_pages`` pages. The list is
then ranked from the revealed ratings and scored on the test half, which no
chooser can touch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from gnn.ml.arrays import ServingArrays, unit_rows

LOW, HIGH = 2, 5  # the two answers whose effect on the list is weighed
SHORTLIST = 60  # candidates re-embedded per page: the likeliest seen of the pool


@dataclass(frozen=True)
class Settings:
    # Chosen on the validation holdouts (benchmark_movielens --onboarding
    # --validation: holdouts 10 and 11), the refilled variant's best there.
    seen_power: float = 1.0  # "likely seen"
    liked_power: float = 1.0  # "likely liked" (from the predicted rating)
    change_power: float = 0.0  # "would move the list" (0: not weighed; it cost NDCG)
    entropy_power: float = 0.0  # how split the members' ratings of the movie are
    personal: bool = True  # "likely seen" from the model; False: log of the rating count
    spread: float = 0.3  # how much closeness to a movie already chosen costs
    pool: int = 300  # the most-rated movies are the candidates


@dataclass
class Member:
    """What the chooser knows of one member (rows are serving-array rows)."""

    features: np.ndarray  # the preprocessed profile [F]
    key: int  # the demographic prior's row
    rated_rows: list[int] = field(default_factory=list)
    rated_values: list[int] = field(default_factory=list)

    def scored(
        self, arrays: ServingArrays, extra: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ranking score of every movie, embedding) from the answers so far,
        plus ``extra`` (row, value) when given."""
        rows, values = list(self.rated_rows), list(self.rated_values)
        if extra is not None:
            rows.append(extra[0])
            values.append(extra[1])
        scores, zu, _ = arrays.scores(
            self.features,
            np.array(rows, dtype=np.int64),
            np.array(values, dtype=np.int64),
            self.key,
        )
        return scores, zu


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


class Chooser:
    """The chooser over one set of arrays; ``popularity`` is each row's count
    of ratings and ``allowed`` marks the rows that may be shown at all (the
    visible catalogue); ``unit`` is the movie embeddings at unit length,
    when the caller has them."""

    def __init__(
        self,
        arrays: ServingArrays,
        popularity: np.ndarray,
        allowed: np.ndarray | None = None,
        settings: Settings | None = None,
        unit: np.ndarray | None = None,
        entropy: np.ndarray | None = None,
    ):
        self.arrays = arrays
        self.settings = settings or Settings()
        popularity = np.asarray(popularity, dtype=np.float64)
        if allowed is not None:
            popularity = np.where(allowed, popularity, -1.0)
        order = np.argsort(-popularity, kind="stable")
        pool = order[: self.settings.pool]
        self.pool = pool[popularity[pool] > 0]
        self.unit = unit_rows(arrays.movies) if unit is None else unit
        self.entropy = entropy
        self.log_count = np.log1p(np.maximum(popularity, 0.0))

    def page(
        self, member: Member, blocked: Sequence[int], n: int, on_screen: Sequence[int] = ()
    ) -> list[int]:
        """Up to ``n`` rows to ask next, best first; never a blocked row (rated,
        answered "haven't seen", dismissed or already on the page). Movies
        ``on_screen`` (blocked too) count for the spread as if chosen."""
        if n <= 0:
            return []
        candidates = self.pool[~np.isin(self.pool, np.asarray(list(blocked), dtype=np.int64))]
        if not len(candidates):
            return []
        arrays, cfg = self.arrays, self.settings
        scores, zu = member.scored(arrays)
        seen = _softmax(scores[candidates]) if cfg.personal else self.log_count[candidates]
        short = np.argsort(-seen, kind="stable")[:SHORTLIST]
        candidates, seen = candidates[short], seen[short] / seen[short[0]]
        rated = np.array(member.rated_rows, dtype=np.int64)
        # The member's own leniency (their rating bias) is left out: it lifts
        # every movie alike, and "likely liked" is meant between movies.
        interaction = arrays.rate_q[candidates] @ (arrays.rate_p @ zu)
        predicted = np.clip(arrays.mu + arrays.rate_bias[candidates] + interaction, 1.0, 5.0)
        high_share = np.clip((predicted - LOW) / (HIGH - LOW), 0.0, 1.0)
        change = np.ones(len(candidates))
        if cfg.change_power:
            base = scores.copy()
            base[rated] = -np.inf  # the list the member would see: rated movies are left out
            now_full = _softmax(base)
        for i, row in enumerate(candidates.tolist() if cfg.change_power else []):
            moved = 0.0
            for value, share in ((HIGH, high_share[i]), (LOW, 1.0 - high_share[i])):
                after, _ = member.scored(arrays, (row, value))
                after[rated] = -np.inf
                after[row] = -np.inf
                now = now_full.copy()
                now[row] = 0.0
                now /= now.sum()
                moved += share * 0.5 * float(np.abs(_softmax(after) - now).sum())
            change[i] = moved
        utility = (seen**cfg.seen_power) * (change**cfg.change_power)
        if cfg.liked_power:
            utility = utility * np.maximum(high_share, 0.05) ** cfg.liked_power
        if self.entropy is not None and cfg.entropy_power:
            utility = utility * self.entropy[candidates] ** cfg.entropy_power
        units = self.unit[candidates]
        closeness = np.zeros(len(candidates))
        if len(on_screen):
            near = units @ self.unit[np.asarray(list(on_screen), dtype=np.int64)].T
            closeness = np.clip(near, 0.0, 1.0).max(axis=1)
        chosen: list[int] = []
        taken = np.zeros(len(candidates), dtype=bool)
        while len(chosen) < min(n, len(candidates)):
            value = np.where(taken, -np.inf, utility * (1.0 - cfg.spread * closeness))
            best = int(np.argmax(value))
            taken[best] = True
            chosen.append(int(candidates[best]))
            closeness = np.maximum(closeness, np.clip(units @ units[best], 0.0, 1.0))
        return chosen


def rating_entropy(movie: np.ndarray, value: np.ndarray, n_movies: int) -> np.ndarray:
    """How split the members' ratings of each movie are: the entropy (bits)
    of its 1-5 histogram, a little smoothed toward uniform so that a movie
    with two ratings is not taken as settled."""
    counts = np.zeros((n_movies, 5))
    np.add.at(counts, (movie, value - 1), 1.0)
    shares = (counts + 0.2) / (counts.sum(1, keepdims=True) + 1.0)
    return -(shares * np.log2(shares)).sum(1)


class PopularPanel:
    """Today's "Seen any of these?": the most liked movies not yet shown."""

    def __init__(self, liked: np.ndarray, allowed: np.ndarray | None = None):
        liked = np.asarray(liked, dtype=np.float64)
        if allowed is not None:
            liked = np.where(allowed, liked, -1.0)
        self.order = np.argsort(-liked, kind="stable")

    def page(
        self, member: Member, blocked: Sequence[int], n: int, on_screen: Sequence[int] = ()
    ) -> list[int]:
        blocked = set(blocked)
        return [int(r) for r in self.order if int(r) not in blocked][:n]


# --- The offline measure ----------------------------------------------------------


def halves(user: np.ndarray, movie: np.ndarray, seed: int) -> np.ndarray:
    """True for the ratings a simulation may reveal: half of each user's
    (rounded down), drawn once per user from (seed, user), over the ratings
    in movie order, so the split does not depend on the order they come in."""
    order = np.lexsort((movie, user))
    revealable = np.zeros(len(user), dtype=bool)
    sorted_users = user[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_users)) + 1] if len(user) else []
    ends = np.r_[starts[1:], len(user)] if len(user) else []
    for start, end in zip(list(starts), list(ends), strict=True):
        rng = np.random.default_rng([seed, int(sorted_users[start])])
        picked = rng.permutation(end - start)[: (end - start) // 2]
        revealable[order[start + picked]] = True
    return revealable


@dataclass
class Session:
    """One simulated member's onboarding: what was asked and answered."""

    rated_rows: list[int]
    rated_values: list[int]
    pages: int
    asked: list[int]  # every row shown, in order


def _answer(member: Member, row: int, revealable: dict[int, int], asked: list[int]) -> int:
    """The simulated member answers one movie: their true rating when it is
    in their revealable half, "haven't seen" otherwise; their rating count."""
    asked.append(row)
    if row in revealable:
        member.rated_rows.append(row)
        member.rated_values.append(revealable[row])
    return len(member.rated_rows)


def simulate(
    choose: Callable[..., list[int]],
    member: Member,
    revealable: dict[int, int],
    *,
    page_size: int = 10,
    target: int = 5,
    max_pages: int = 10,
    refill: bool = False,
) -> Session:
    """Run one member through pages of ``choose`` until ``target`` ratings or
    ``max_pages`` pages; only movies of ``revealable`` (row -> the member's
    true value) are ever rated, everything else shown is "haven't seen"."""
    asked: list[int] = []
    pages = 0
    if refill:
        # The site's way: a screen of ``page_size`` movies, answered from the
        # top; each answered one leaves and the chooser adds one at the
        # bottom, knowing every answer so far and what is still on screen.
        screen = list(choose(member, [], page_size))
        while screen and len(asked) < max_pages * page_size:
            row = screen.pop(0)
            if _answer(member, row, revealable, asked) == target:
                break
            screen += choose(member, asked + screen, 1, on_screen=screen)
        pages = -(-len(asked) // page_size)
        return Session(list(member.rated_rows), list(member.rated_values), pages, asked)
    while len(member.rated_rows) < target and pages < max_pages:
        shown = choose(member, asked + member.rated_rows, page_size)
        if not shown:
            break
        pages += 1
        for row in shown:
            if _answer(member, row, revealable, asked) == target:
                break
    return Session(list(member.rated_rows), list(member.rated_values), pages, asked)
