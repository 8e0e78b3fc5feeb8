"""Experiments: sticky assignment, the split's share, two rankers served side
by side with their impressions, member-level intervals, Promote through
permissions."""

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from events.models import Impression
from events.services import events_flush
from experiments import statistics
from experiments.assignment import arm_of
from experiments.interleaving import team_draft
from experiments.models import POPULARITY, Experiment
from experiments.selectors import (
    assignment_for,
    interleaving_results,
    results,
    running_experiments_forget,
)
from experiments.services import experiment_save
from gnn.bridge import registry
from tests.conftest import train_quickly

ROOT = Path(__file__).resolve().parents[2]


def test_a_member_keeps_their_arm_in_another_process():
    here = [arm_of(7, user, 0.6) for user in range(500)]
    script = "import json; from experiments.assignment import arm_of; " + (
        "print(json.dumps([arm_of(7, u, 0.6) for u in range(500)]))"
    )
    there = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    )
    assert here == there


def test_the_split_gives_the_share_and_halves_within_binomial_bounds():
    n, share = 10_000, 0.3
    arms = [arm_of(3, user, share) for user in range(n)]
    inside = sum(a is not None for a in arms)
    bound = 4 * (n * share * (1 - share)) ** 0.5  # four standard deviations
    assert abs(inside - n * share) < bound
    b = sum(a == "b" for a in arms)
    assert abs(b - inside / 2) < 4 * (inside * 0.25) ** 0.5
    # Another experiment splits the same members independently.
    other = [arm_of(4, user, share) for user in range(n)]
    assert sum(x == y for x, y in zip(arms, other, strict=True) if x and y) < 0.7 * inside * share


def test_the_planned_size_is_the_textbook_formula():
    z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.9)
    # sd 1, mean 1, a 20% change: 2 z² / 0.2² = 525.4 members per arm.
    assert statistics.planned_members_per_arm(1.0, 1.0, 0.2) == int(np.ceil(2 * z**2 / 0.04))
    assert statistics.planned_members_per_arm(1.0, 1.0, 0.2) == 526
    assert statistics.planned_members_per_arm(0.0, 1.0, 0.2) is None


def test_member_level_intervals_match_the_normal_theory_by_hand():
    rng = np.random.default_rng(1)
    values = (rng.random(2000) < 0.3).astype(float)
    p = values.mean()
    half = 1.96 * (p * (1 - p) / len(values)) ** 0.5  # the hand-computed 95% half-width
    interval = statistics.mean_interval(values)
    assert interval.estimate == pytest.approx(p)
    assert interval.low == pytest.approx(p - half, abs=0.006)
    assert interval.high == pytest.approx(p + half, abs=0.006)
    # A rate over members with one event each is the same mean.
    ratio = statistics.ratio_interval(values, np.ones_like(values))
    assert (ratio.low, ratio.high) == pytest.approx((interval.low, interval.high))
    # Two arms of the same population: the difference's interval holds 0.
    other = (rng.random(2000) < 0.3).astype(float)
    assert not statistics.difference_interval(values, other).excludes_zero()


@pytest.fixture
def experiment(trained, staff, settings):
    running_experiments_forget()
    made = experiment_save(
        experiment=Experiment(name="model vs popularity", version_a=trained, version_b=POPULARITY)
    )
    yield made
    running_experiments_forget()


def test_members_of_each_arm_see_its_ranker_and_their_impressions_say_so(
    client, experiment, django_user_model, trained, staff
):
    seen = {}
    for i in range(12):
        member = django_user_model.objects.create_user(
            username=f"m{i}", password="x" * 12, age=30, gender="F", occupation="writer"
        )
        client.force_login(member)
        page = client.get(reverse("home"))
        arm = assignment_for(user=member, surface="panel").arm
        seen.setdefault(arm, []).append(page.context["recommendations"])
    assert set(seen) == {"a", "b"}  # 12 members, both arms (a 1 in 2,048 chance to fail)
    assert all(r.source == "model" and r.model_version == trained for r in seen["a"])
    assert all(r.source == "popularity" for r in seen["b"])
    events_flush()
    by_arm = dict(
        Impression.objects.filter(experiment_id=experiment.pk)
        .values_list("arm")
        .annotate(n=Count("pk"))
    )
    assert by_arm == {"a": len(seen["a"]), "b": len(seen["b"])}
    outcome = results(experiment)
    assert [arm.members for arm in outcome.arms] == [len(seen["a"]), len(seen["b"])]
    assert "Not enough data" in outcome.verdict or "Collecting" in outcome.verdict
    # The curator's page shows the arms side by side.
    client.force_login(staff)
    page = client.get(reverse("admin:experiments_experiment_change", args=[experiment.pk]))
    assert page.status_code == 200
    assert "Ratings of recommended movies per member" in page.text
    assert outcome.verdict in page.text


def test_a_second_experiment_on_the_surface_and_unknown_versions_are_refused(
    client, staff, experiment, trained
):
    client.force_login(staff)
    add = reverse("admin:experiments_experiment_add")
    now = timezone.now()
    form = {
        "name": "overlap", "surface": "panel", "method": "ab", "version_a": trained,
        "version_b": POPULARITY, "share": "0.5", "mde": "0.2",
        "starts_at_0": (now + timedelta(days=1)).strftime("%Y-%m-%d"), "starts_at_1": "10:00:00",
    }  # fmt: skip
    refused = client.post(add, form)
    assert refused.status_code == 200
    assert "one experiment per surface at a time" in refused.text
    assert client.post(add, {**form, "version_a": "20990101-000000-000000"}).status_code == 200
    assert Experiment.objects.count() == 1


def test_promote_needs_its_permissions_and_serves_the_arm_to_everyone(
    client, experiment, django_user_model, settings, trained
):
    challenger = train_quickly(no_activate=True)
    experiment.version_b = challenger
    experiment_save(experiment=experiment)
    assert challenger in registry.served_versions(settings.MODELS_DIR)  # held beside current
    curator = django_user_model.objects.create_user(
        username="editor", password="x" * 12, is_staff=True
    )
    curator.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_experiment", "change_experiment"])
    )
    client.force_login(curator)
    changelist = reverse("admin:experiments_experiment_changelist")
    action = {"action": "promote_b", "_selected_action": [experiment.pk]}
    denied = client.post(changelist, action, follow=True)
    assert "Promoting needs" in denied.text
    assert registry.served_versions(settings.MODELS_DIR)[0] == trained

    curator.user_permissions.add(
        *Permission.objects.filter(codename__in=["promote_experiment", "activate_modelversion"])
    )
    curator = django_user_model.objects.get(pk=curator.pk)  # permissions are cached per object
    client.force_login(curator)
    done = client.post(changelist, action, follow=True)
    assert f"Version {challenger} now serves everyone" in done.text
    assert registry.served_versions(settings.MODELS_DIR) == (challenger,)
    experiment.refresh_from_db()
    assert experiment.promoted == challenger and experiment.stopped_at is not None


def test_team_draft_keeps_each_rankers_order_and_balances_the_teams():
    import random

    a, b = [1, 2, 3, 4, 5, 6], [3, 7, 1, 8, 9, 2]
    for seed in range(20):
        picked, teams = team_draft(a, b, 6, random.Random(seed))
        assert len(set(picked)) == 6
        for k in range(1, 7):  # after any number of picks, the teams differ by at most one
            assert abs(teams[:k].count("a") - teams[:k].count("b")) <= 1
        for team, ranking in (("a", a), ("b", b)):
            mine = [m for m, t in zip(picked, teams, strict=True) if t == team]
            assert mine == sorted(mine, key=ranking.index)  # each team in its own order
    assert team_draft([1], [1], 5, random.Random(0))[0] == [1]  # both exhausted: stop


def test_the_sign_test_matches_the_binomial_by_hand():
    # 8 of 10 members prefer B: P(X >= 8) * 2 = 2 * (45 + 10 + 1) / 1024 = 0.109375.
    assert statistics.sign_test(2, 8) == pytest.approx(0.109375)
    assert statistics.sign_test(0, 0) is None
    assert statistics.planned_members_interleaving(0.2) > statistics.planned_members_interleaving(
        0.4
    )


def test_an_interleaving_experiment_credits_the_team_that_placed_what_members_open(
    client, trained, staff, django_user_model
):
    running_experiments_forget()
    experiment = experiment_save(
        experiment=Experiment(
            name="interleaved", method="interleave", version_a=trained, version_b=POPULARITY
        )
    )
    credited = {"a": 0, "b": 0}
    for i in range(6):
        member = django_user_model.objects.create_user(
            username=f"i{i}", password="x" * 12, age=30, gender="M", occupation="writer"
        )
        client.force_login(member)
        page = client.get(reverse("home"))
        shown = [item.movie.pk for item in page.context["recommendations"].items]
        assert len(shown) == 10 and len(set(shown)) == 10
        client.get(reverse("catalog:detail", args=[shown[0]]), {"via": "panel", "pos": "1"})
    events_flush()
    for impression in Impression.objects.filter(experiment_id=experiment.pk):
        assert impression.arm == "interleaved" and len(impression.teams) == 10
        credited[impression.teams[0]] += 1
    found = interleaving_results(experiment)
    assert found.members == 6
    assert (found.wins_a, found.wins_b) == (credited["a"], credited["b"])
    assert found.p_value == pytest.approx(statistics.sign_test(credited["a"], credited["b"]))
    client.force_login(staff)
    page = client.get(reverse("admin:experiments_experiment_change", args=[experiment.pk]))
    assert "Members shown an interleaved list" in page.text and found.verdict in page.text
    running_experiments_forget()
