"""Team-draft interleaving: two rankers' lists merged into one, each
position credited to the ranker ("team") that placed it (Radlinski, Kurup and
Joachims, 2008). Like picking sides for a game: the team with fewer picks so
far picks next (a coin decides ties), taking its best movie not yet picked."""

from __future__ import annotations

import random
from collections.abc import Sequence


def team_draft(a: Sequence[int], b: Sequence[int], n: int, rng: random.Random):
    """(movie ids, teams) for the first ``n`` positions."""
    picked: list[int] = []
    teams: list[str] = []
    taken: set[int] = set()
    lists = {"a": list(a), "b": list(b)}
    at = {"a": 0, "b": 0}
    count = {"a": 0, "b": 0}
    while len(picked) < n:
        if count["a"] != count["b"]:
            team = "a" if count["a"] < count["b"] else "b"
        else:
            team = "a" if rng.random() < 0.5 else "b"
        other = "b" if team == "a" else "a"
        for side in (team, other):  # a team out of movies lets the other pick
            while at[side] < len(lists[side]) and lists[side][at[side]] in taken:
                at[side] += 1
            if at[side] < len(lists[side]):
                movie = lists[side][at[side]]
                picked.append(movie)
                teams.append(side)
                taken.add(movie)
                count[side] += 1
                break
        else:
            break  # both lists exhausted
    return picked, teams
