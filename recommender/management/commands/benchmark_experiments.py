"""A simulation that checks the experiments' statistics: false positives of
A/A tests, power and members needed for A/B and for interleaving.

    python manage.py benchmark_experiments --data DIR [--json PATH]

It works on a scratch database of its own (a temporary SQLite file,
migrated and filled from DIR, a MovieLens 100K directory), never the site's.
The simulated members are the held-out members of the benchmark's first
cold-start holdout (20% of the members, seed 0): their ratings are removed
and a model is trained without them. Accounts copied from them (members may
be drawn several times, each copy an account of its own) then use the site
through its real paths — the panel's view (assignment, the arm's ranker, the
impression), a card's link (the opening), the star widget (the rating), the
events queue and flusher — and act as their original would: a movie of the
list that the original rated is opened with a position-biased probability
(0.6 / √position) and rated with the original's value; nothing else is.

Three real passes (A/A with one version in both arms, A/B model against the
popularity list, interleaving of the same pair) record per-member outcomes;
the runs then redraw from them: A/A reassigns the arms by a fresh
experiment's hash in each run (no retraining), A/B and interleaving draw
members of a given total from their pass with replacement (a bootstrap of
the population the pass sampled; totals beyond the pass's size
extrapolate), and each run is judged by the site's own statistics
(experiments.statistics: the member-level bootstrap interval of B - A on
ratings of recommended movies per member; the sign test for interleaving).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

GRID = (100, 200, 400, 800, 1600, 3200, 6400, 12800)
OPEN_AT_FIRST = 0.6
MDE = 0.2  # the relative change the planned size is for (ratings per member)


class Command(BaseCommand):
    help = "Simulate A/A, A/B and interleaving experiments on a scratch database."

    def add_arguments(self, parser):
        parser.add_argument("--data", type=Path, required=True, help="a MovieLens 100K directory")
        parser.add_argument("--json", type=Path, help="write the figures here too")
        parser.add_argument("--aa-runs", type=int, default=200)
        parser.add_argument("--runs", type=int, default=100, help="runs per grid size")
        parser.add_argument("--pass-members", type=int, default=1600)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)

    def handle(self, *args, data: Path, inner=False, **options):
        if not (data / "u.data").is_file():
            raise CommandError(f"{data}: not a MovieLens 100K directory (no u.data).")
        if not inner:
            return self._outer(data, options)
        figures = simulate(data, options, self.stdout.write)
        self.stdout.write("FIGURES " + json.dumps(figures))

    def _outer(self, data: Path, options) -> None:
        """Re-run this command on a scratch database and folders of its own."""
        with tempfile.TemporaryDirectory(prefix="reel-experiments-") as scratch:
            env = {
                **os.environ,
                "DATABASE_URL": f"sqlite:///{scratch}/db.sqlite3",
                "DATA_DIR": f"{scratch}/data", "MODELS_DIR": f"{scratch}/models",
                "CACHE_URL": "locmem://", "EVENTS_QUEUE_URL": "", "LOG_LEVEL": "WARNING",
                # Static files from the finders, as in development: nothing collected.
                "DEBUG": "true", "READ_DOTENV": "false",
                "DJANGO_SETTINGS_MODULE": "recommender.settings",
                "CELERY_BROKER_URL": "", "RETRAIN_AFTER_RATINGS": "100000000",
                "RATE_LIMIT_RATINGS": "0", "EVENTS_RATE": "0",
            }  # fmt: skip
            command = [
                sys.executable, "manage.py", "benchmark_experiments", "--inner",
                "--data", str(data.resolve()), "--aa-runs", str(options["aa_runs"]),
                "--runs", str(options["runs"]), "--pass-members", str(options["pass_members"]),
                "--seed", str(options["seed"]),
            ]  # fmt: skip
            started = time.perf_counter()
            done = subprocess.run(
                command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
            )
            if done.returncode:
                raise CommandError(f"the simulation failed:\n{done.stderr[-3000:]}")
        lines = done.stdout.splitlines()
        figures = json.loads(next(line for line in lines if line.startswith("FIGURES "))[8:])
        figures["seconds"] = round(time.perf_counter() - started, 1)
        for line in lines:
            if not line.startswith("FIGURES "):
                self.stdout.write(line)
        self._report(figures)
        if options.get("json"):
            options["json"].write_text(json.dumps(figures, indent=2))

    def _report(self, f: dict) -> None:
        aa, ab, il = f["aa"], f["ab"], f["interleaving"]
        self.stdout.write(
            f"\nMinimum detectable effect: {f['mde']:.0%} relative change in ratings of "
            f"recommended movies per member (planned, from the A/A pass: "
            f"{f['planned_per_arm']} members per arm).\n"
            f"A/A ({aa['runs']} runs of {aa['members']} members, arms reassigned): "
            f"significant at alpha 0.05 in {aa['significant_share']:.3f} of runs "
            "(must be <= 0.08)\n"
            f"A/B, model (A) vs popularity (B): ratings of recommended movies per member "
            f"{ab['ratings_per_member']}, B - A over the whole pass {ab['whole_pass_b_minus_a']}; "
            f"power to find the model better by total members {ab['power_by_members']} "
            f"(either direction {ab['either_direction_by_members']}); members needed for "
            f"power >= 0.9: {ab['members']}\n"
            f"Interleaving, same pair: power by total members {il['power_by_members']}; "
            f"members needed: {il['members']}\n"
            f"({f['seconds']} s in all)"
        )


def simulate(data: Path, options, say) -> dict:
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host and captured contexts
    rng = np.random.default_rng(options["seed"])
    call_command("migrate", verbosity=0)
    call_command("seed_movielens", source=str(data), verbosity=0, stdout=_Quiet())
    pool = _hold_out()
    say(f"{len(pool)} held-out members; training without them...")
    call_command("train_model", verbosity=0, stdout=_Quiet())
    from gnn.selectors import served_model

    version = served_model().version
    members = options["pass_members"]

    aa = _pass("aa", version, version, "ab", members // 4, pool, rng)
    ab = _pass("ab", version, "popularity", "ab", members, pool, rng)
    il = _pass("il", version, "popularity", "interleave", members // 2, pool, rng)
    say("passes done; drawing runs...")
    return _runs(aa, ab, il, options, rng)


class _Quiet:
    def write(self, *_args, **_kwargs):
        pass

    def flush(self):
        pass


def _hold_out() -> list[dict]:
    """The first cold-start holdout's members: their demographics and their
    ratings (movie pk -> value), which are removed from the database."""
    from accounts.models import User
    from gnn.ml.benchmark import COLD_SEED, cold_holdout
    from ratings.models import Rating
    from ratings.services import movie_stats_refresh

    people = list(User.objects.filter(source="movielens").order_by("movielens_id"))
    held, _ = cold_holdout(len(people), COLD_SEED)
    pool = []
    for row in held.tolist():
        person = people[row]
        truth = dict(Rating.objects.filter(user=person).values_list("movie_id", "value"))
        pool.append(
            {
                "age": person.age,
                "gender": person.gender,
                "occupation": person.occupation,
                "truth": truth,
            }
        )
    Rating.objects.filter(user__in=[people[r] for r in held.tolist()]).delete()
    movie_stats_refresh()
    return pool


def _pass(name, version_a, version_b, method, n, pool, rng) -> dict:
    """``n`` accounts drawn from ``pool`` use the site under an experiment;
    per member: arm, ratings of recommended movies, pages opened, and the
    credit per team (interleaving)."""
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User
    from events.models import Impression, Outcome
    from events.services import events_flush
    from experiments.models import Experiment
    from experiments.selectors import running_experiments_forget
    from experiments.services import experiment_save, experiment_stop

    for running in Experiment.objects.filter(stopped_at=None):
        experiment_stop(experiment=running)
    experiment = experiment_save(
        experiment=Experiment(
            name=f"simulation {name}", version_a=version_a, version_b=version_b, method=method
        )
    )
    running_experiments_forget()
    client = Client()
    drawn = rng.integers(0, len(pool), n)
    for i, index in enumerate(drawn.tolist()):
        original = pool[index]
        member = User.objects.create_user(
            username=f"sim-{name}-{i}", password=None, age=original["age"],
            gender=original["gender"], occupation=original["occupation"],
        )  # fmt: skip
        client.force_login(member)
        page = client.get(reverse("home"))
        for position, item in enumerate(page.context["recommendations"].items, start=1):
            value = original["truth"].get(item.movie.pk)
            if value is None or rng.random() >= OPEN_AT_FIRST / math.sqrt(position):
                continue
            detail = reverse("catalog:detail", args=[item.movie.pk])
            client.get(detail, {"via": "panel", "pos": str(position)})
            client.post(reverse("ratings:rate", args=[item.movie.pk]), {"value": value})
    events_flush()
    lists = {
        pk: (user, arm, teams)
        for pk, user, arm, teams in Impression.objects.filter(
            experiment_id=experiment.pk
        ).values_list("id", "user_id", "arm", "teams")
    }
    per_member: dict[int, dict] = {}
    for user, arm, _ in lists.values():
        per_member.setdefault(user, {"arm": arm, "ratings": 0, "a": 0, "b": 0})
    for list_id, kind, position in Outcome.objects.filter(list_id__in=list(lists)).values_list(
        "list_id", "kind", "position"
    ):
        user, _arm, teams = lists[list_id]
        if kind == "rating":
            per_member[user]["ratings"] += 1
        if teams and position and kind in ("open", "rating"):
            per_member[user][teams[position - 1]] += 1
    experiment_stop(experiment=experiment)
    return {"experiment": experiment.pk, "members": per_member}


def _runs(aa, ab, il, options, rng) -> dict:
    from experiments import statistics
    from experiments.assignment import arm_of

    # A/A: one version in both arms; each run reassigns by a new experiment id.
    users = np.array(sorted(aa["members"]))
    ratings = np.array([aa["members"][u]["ratings"] for u in users], dtype=float)
    significant = 0
    for run in range(options["aa_runs"]):
        arms = np.array([arm_of(10_000 + run, int(u), 1.0) == "b" for u in users])
        interval = statistics.difference_interval(ratings[~arms], ratings[arms], seed=run)
        significant += bool(interval and interval.excludes_zero())
    planned = statistics.planned_members_per_arm(
        float(ratings.std(ddof=1)), float(ratings.mean()), MDE
    )

    # A/B: members of the pass kept with their arms, drawn by total size.
    ab_users = list(ab["members"].values())
    whole = {arm: [m["ratings"] for m in ab_users if m["arm"] == arm] for arm in ("a", "b")}
    whole_interval = statistics.difference_interval(whole["a"], whole["b"])
    ab_power, ab_any = {}, {}
    for total in GRID:
        wins = either = 0
        for run in range(options["runs"]):
            chosen = rng.choice(len(ab_users), total, replace=True)
            a = [ab_users[i]["ratings"] for i in chosen if ab_users[i]["arm"] == "a"]
            b = [ab_users[i]["ratings"] for i in chosen if ab_users[i]["arm"] == "b"]
            interval = statistics.difference_interval(a, b, seed=run)
            found = bool(interval and interval.excludes_zero())
            # Arm A is the model: it is found better when B - A is below 0.
            wins += found and interval.estimate < 0
            either += found
        ab_power[total] = round(wins / options["runs"], 3)
        ab_any[total] = round(either / options["runs"], 3)

    il_users = list(il["members"].values())
    il_power = {}
    for total in GRID:
        wins = 0
        for _run in range(options["runs"]):
            chosen = rng.choice(len(il_users), total, replace=True)
            wins_a = sum(il_users[i]["a"] > il_users[i]["b"] for i in chosen)
            wins_b = sum(il_users[i]["b"] > il_users[i]["a"] for i in chosen)
            p = statistics.sign_test(wins_a, wins_b)
            wins += bool(p is not None and p < statistics.ALPHA and wins_a > wins_b)
        il_power[total] = round(wins / options["runs"], 3)

    def needed(power):
        return next((n for n, p in power.items() if p >= statistics.POWER), None)

    return {
        "aa": {
            "runs": options["aa_runs"], "members": len(users),
            "significant_share": round(significant / options["aa_runs"], 4),
        },
        "ab": {"runs": options["runs"], "power": ab_power.get(needed(ab_power) or 0),
               "members": needed(ab_power), "power_by_members": ab_power,
               "either_direction_by_members": ab_any,
               "ratings_per_member": {arm: round(float(np.mean(v)), 4) for arm, v in whole.items()},
               "whole_pass_b_minus_a": [round(whole_interval.estimate, 4),
                                        round(whole_interval.low, 4),
                                        round(whole_interval.high, 4)]},
        "interleaving": {"runs": options["runs"], "power": il_power.get(needed(il_power) or 0),
                         "members": needed(il_power), "power_by_members": il_power},
        "mde": MDE,
        "planned_per_arm": planned,
    }  # fmt: skip
