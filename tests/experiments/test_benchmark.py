"""The experiments' simulation end to end, small: a scratch database filled
from the fixture, a model trained without the held-out members, three passes
through the site's real paths, and the figures the note reports."""

import json

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import SYNTHETIC


def test_the_simulation_reports_aa_ab_and_interleaving_from_a_scratch_database(
    tmp_path, db, settings
):
    out = tmp_path / "figures.json"
    call_command(
        "benchmark_experiments", data=SYNTHETIC, json=out, pass_members=120, aa_runs=10, runs=5,
        stdout=open(tmp_path / "log", "w"),  # noqa: SIM115
    )  # fmt: skip
    figures = json.loads(out.read_text())
    assert set(figures) >= {"aa", "ab", "interleaving", "mde"}
    assert figures["aa"]["runs"] == 10 and 0 <= figures["aa"]["significant_share"] <= 1
    assert figures["ab"]["power_by_members"]["100"] >= 0  # drawn from the 120-member pass
    # The site's own database was never touched.
    from accounts.models import User

    assert not User.objects.filter(username__startswith="sim-").exists()


def test_a_folder_that_is_not_movielens_is_refused(tmp_path):
    with pytest.raises(CommandError, match="not a MovieLens 100K directory"):
        call_command("benchmark_experiments", data=tmp_path)
