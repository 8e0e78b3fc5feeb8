"""Which experiment runs where, which arm a member is in, and how the arms
compare (from the events)."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np
from django.utils import timezone

from events.models import Impression, Outcome
from experiments import statistics
from experiments.assignment import arm_of
from experiments.interleaving import team_draft
from experiments.models import Experiment, Method
from gnn.selectors import recommendations_for

# A web process looks for running experiments at most this often: one query
# per process every few seconds, none per request.
CHECK_SECONDS = 5.0
_running: dict = {"until": 0.0, "by_surface": {}}


def running_experiments() -> dict[str, Experiment]:
    """The running experiment of each surface (at most one each)."""
    now = time.monotonic()
    if now >= _running["until"]:
        moment = timezone.now()
        found = {}
        for experiment in Experiment.objects.filter(stopped_at=None, starts_at__lte=moment):
            if experiment.is_running(moment):
                found.setdefault(experiment.surface, experiment)
        _running.update(until=now + CHECK_SECONDS, by_surface=found)
    return _running["by_surface"]


def running_experiments_forget() -> None:
    """After a change in this process: the next request looks again."""
    _running["until"] = 0.0


INTERLEAVED = "interleaved"  # the arm of every member of an interleaving experiment


@dataclass(frozen=True)
class Assignment:
    experiment: Experiment
    arm: str  # "a", "b", or INTERLEAVED

    @property
    def interleaved(self) -> bool:
        return self.arm == INTERLEAVED

    @property
    def version(self) -> str | None:
        """The ranker of the member's list (None: both, interleaved)."""
        if self.interleaved:
            return None
        return self.experiment.version_a if self.arm == "a" else self.experiment.version_b


def assignment_for(*, user, surface: str) -> Assignment | None:
    """The member's arm on ``surface``, or None (no experiment there, a
    visitor, or a member outside the experiment's share)."""
    if not getattr(user, "is_authenticated", False):
        return None
    experiment = running_experiments().get(surface)
    if experiment is None:
        return None
    arm = arm_of(experiment.pk, user.pk, experiment.share)
    if arm is None:
        return None
    return Assignment(experiment, INTERLEAVED if experiment.method == Method.INTERLEAVE else arm)


def interleaved_recommendations(*, user, query, experiment: Experiment):
    """(recommendations, teams): arms A's and B's lists team-drafted into
    one (experiments.interleaving), a fresh coin for every list."""
    a = recommendations_for(user=user, query=query, version=experiment.version_a)
    b = recommendations_for(user=user, query=query, version=experiment.version_b)
    items = {"a": {i.movie.pk: i for i in a.items}, "b": {i.movie.pk: i for i in b.items}}
    picked, teams = team_draft(list(items["a"]), list(items["b"]), query.n, random.Random())
    merged = [items[team][movie] for movie, team in zip(picked, teams, strict=True)]
    return replace(a, items=merged), teams


# --- Results ------------------------------------------------------------------


@dataclass(frozen=True)
class ArmResult:
    arm: str
    version: str
    members: int
    impressions: int
    click_through: statistics.Interval | None  # pages opened per impression
    ratings_per_member: statistics.Interval | None  # ratings of recommended movies
    rating_mean: statistics.Interval | None  # their mean value
    liked_share: statistics.Interval | None  # their share of 4 and 5
    dismiss_rate: statistics.Interval | None  # "not interested" per impression
    per_member_ratings: np.ndarray

    @property
    def figures(self) -> list[statistics.Interval | None]:
        return [
            self.click_through, self.ratings_per_member, self.rating_mean, self.liked_share,
            self.dismiss_rate,
        ]  # fmt: skip


@dataclass(frozen=True)
class Results:
    arms: list[ArmResult]
    difference: statistics.Interval | None  # B - A, ratings per member
    planned_per_arm: int | None
    verdict: str


@dataclass(frozen=True)
class InterleavingResults:
    members: int  # members shown an interleaved list
    wins_a: int  # members whose clicks and ratings went more to A's picks
    wins_b: int
    ties: int
    p_value: float | None  # the sign test's, two-sided
    planned: int | None  # members with a preference needed
    verdict: str


def interleaving_results(experiment: Experiment) -> InterleavingResults:
    """Credit per member: pages opened and ratings on each team's positions;
    a member prefers the team with more; a sign test over members."""
    shown = Impression.objects.filter(experiment_id=experiment.pk, arm=INTERLEAVED)
    lists = {
        pk: (user_id, teams) for pk, user_id, teams in shown.values_list("id", "user_id", "teams")
    }
    credit: dict[int, dict[str, int]] = {user: {"a": 0, "b": 0} for user, _ in lists.values()}
    outcomes = Outcome.objects.filter(
        list_id__in=list(lists), kind__in=["open", "rating"], position__isnull=False
    ).values_list("list_id", "position")
    for list_id, position in outcomes.iterator():
        user_id, teams = lists[list_id]
        if teams and 1 <= position <= len(teams):
            credit[user_id][teams[position - 1]] += 1
    wins_a = sum(c["a"] > c["b"] for c in credit.values())
    wins_b = sum(c["b"] > c["a"] for c in credit.values())
    ties = len(credit) - wins_a - wins_b
    p_value = statistics.sign_test(wins_a, wins_b)
    planned = statistics.planned_members_interleaving(experiment.mde)
    if planned is None:
        verdict = "Set an effect between 0 and 1 to plan the sample."
    elif wins_a + wins_b < planned:
        verdict = (
            f"Collecting: {wins_a + wins_b:,} of the {planned:,} members with a preference "
            "needed (no verdict before then)."
        )
    elif p_value is not None and p_value < statistics.ALPHA:
        verdict = (
            f"Members prefer arm {'B' if wins_b > wins_a else 'A'} (sign test p = {p_value:.3g})."
        )
    else:
        verdict = f"No preference detected at the planned size (p = {p_value:.3g})."
    return InterleavingResults(len(credit), wins_a, wins_b, ties, p_value, planned, verdict)


def results(experiment: Experiment) -> Results:
    per_arm = {}
    for arm, version in (("a", experiment.version_a), ("b", experiment.version_b)):
        per_arm[arm] = _arm_result(experiment, arm, version)
    a, b = per_arm["a"], per_arm["b"]
    difference = statistics.difference_interval(a.per_member_ratings, b.per_member_ratings)
    planned = None
    if len(a.per_member_ratings) >= 2:
        planned = statistics.planned_members_per_arm(
            float(np.std(a.per_member_ratings, ddof=1)),
            float(np.mean(a.per_member_ratings)),
            experiment.mde,
        )
    return Results([a, b], difference, planned, _verdict(a, b, difference, planned))


def _verdict(a, b, difference, planned) -> str:
    if planned is None:
        return "Not enough data yet to plan the sample (arm A needs members who rated)."
    reached = min(a.members, b.members)
    if reached < planned:
        return (
            f"Collecting: {reached:,} of the {planned:,} members each arm needs "
            "(no verdict before then: looking early inflates false positives)."
        )
    if difference is None or not difference.excludes_zero():
        return "No difference detected at the planned size."
    better = "B" if difference.estimate > 0 else "A"
    return f"Arm {better} is better: its members rate more of what it recommends."


def _arm_result(experiment: Experiment, arm: str, version: str) -> ArmResult:
    shown = Impression.objects.filter(experiment_id=experiment.pk, arm=arm)
    lists = dict(shown.values_list("id", "user_id"))
    impressions: dict[int, int] = defaultdict(int)
    for user_id in lists.values():
        impressions[user_id] += 1
    members = sorted(impressions)
    opens, dismissals, ratings = defaultdict(int), defaultdict(int), defaultdict(list)
    outcomes = Outcome.objects.filter(list_id__in=list(lists)).values_list(
        "user_id", "kind", "value"
    )
    for user_id, kind, value in outcomes.iterator():
        if kind == "open":
            opens[user_id] += 1
        elif kind == "dismiss":
            dismissals[user_id] += 1
        elif kind == "rating" and value:
            ratings[user_id].append(value)
    n = np.array([impressions[m] for m in members], dtype=float)
    rated = np.array([len(ratings[m]) for m in members], dtype=float)
    sums = np.array([sum(ratings[m]) for m in members], dtype=float)
    liked = np.array([sum(v >= 4 for v in ratings[m]) for m in members], dtype=float)
    return ArmResult(
        arm=arm,
        version=version,
        members=len(members),
        impressions=int(n.sum()),
        click_through=statistics.ratio_interval([opens[m] for m in members], n),
        ratings_per_member=statistics.mean_interval(rated),
        rating_mean=statistics.ratio_interval(sums, rated),
        liked_share=statistics.ratio_interval(liked, rated),
        dismiss_rate=statistics.ratio_interval([dismissals[m] for m in members], n),
        per_member_ratings=rated,
    )
