"""Which experiment runs where, which arm a member is in, and how the arms
compare (from the events)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from django.utils import timezone

from events.models import Impression, Outcome
from experiments import statistics
from experiments.assignment import arm_of
from experiments.models import Experiment

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


@dataclass(frozen=True)
class Assignment:
    experiment: Experiment
    arm: str  # "a" or "b"

    @property
    def version(self) -> str:
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
    return Assignment(experiment, arm) if arm else None


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
