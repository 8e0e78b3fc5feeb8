"""The operators' model commands."""

import io
import re

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from gnn.bridge import registry
from tests.conftest import serving, train_quickly


def test_train_model_prints_the_metrics_table_beside_the_floors(seeded):
    out = io.StringIO()
    call_command("train_model", epochs=20, stdout=out)
    text = out.getvalue()
    assert "NDCG@10, new members (profile only)" in text
    assert "NDCG@10, new members after 5 random ratings" in text
    assert "Popularity in demographic group" in text
    # EASE is a floor of members in training and of new members with ratings.
    header = next(line for line in text.splitlines() if line.startswith("measure"))
    assert header.rstrip().endswith("EASE")
    warm = next(line for line in text.splitlines() if line.startswith("NDCG@10, members"))
    assert re.fullmatch(r"\d\.\d{3}", warm.split()[-1])  # EASE's figure, not "-"
    assert "now serving" in text


def test_model_versions_and_rollback_commands(trained):
    second = train_quickly()
    out = io.StringIO()
    call_command("model_versions", stdout=out)
    assert f"* {second}" in out.getvalue()
    assert f"  {trained}" in out.getvalue()

    call_command("model_rollback", trained, stdout=io.StringIO())
    assert serving() == trained

    with pytest.raises(CommandError, match="does not exist"):
        call_command("model_rollback", "19990101-000000-000000")
    assert serving() == trained


def test_rollback_to_a_corrupt_version_is_refused(trained):
    second = train_quickly()
    weights = registry.versions_dir(settings.MODELS_DIR) / trained / "model.pt"
    weights.write_bytes(b"garbage")
    with pytest.raises(CommandError, match="corrupt"):
        call_command("model_rollback", trained)
    assert serving() == second


def test_evaluate_model_shows_the_recorded_figures(trained):
    out = io.StringIO()
    call_command("evaluate_model", stdout=out)
    assert trained in out.getvalue()
    assert "Rating error (RMSE), members in training" in out.getvalue()


def test_evaluate_model_without_a_model_says_so(db):
    with pytest.raises(CommandError, match="no model version is serving"):
        call_command("evaluate_model")
