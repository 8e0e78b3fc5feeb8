"""The migration that leaves one database record per version: a run's version
name and metrics move onto the version's row, and a pruned version keeps one."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from gnn.models import ModelVersion, TrainingRun


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor


@pytest.mark.django_db(transaction=True)
def test_runs_versions_and_metrics_become_one_row_per_version():
    before = [("gnn", "0004_training_curve")]
    old = _migrate(before).loader.project_state(before).apps
    Run, Version = old.get_model("gnn", "TrainingRun"), old.get_model("gnn", "ModelVersion")
    now = timezone.now()
    served = Run.objects.create(
        trigger="command", status="succeeded", active=None, finished_at=now,
        version="20260101-000000-000001", metrics={"warm": {"model": {"ndcg_at_10": 0.4}}},
        ratings_count=100, users_count=10, movies_count=20, snapshot_at=now,
    )  # fmt: skip
    pruned = Run.objects.create(
        trigger="threshold", status="succeeded", active=None, finished_at=now,
        version="20250101-000000-000001", metrics={"warm": {"model": {"ndcg_at_10": 0.3}}},
        ratings_count=90, users_count=9, movies_count=20,
    )  # fmt: skip
    failed = Run.objects.create(trigger="admin", status="failed", active=None, error="boom")
    # The old mirror had a row for the version still on disk, without the run's snapshot.
    Version.objects.create(
        version="20260101-000000-000001", metrics=served.metrics, training_run=served
    )

    _migrate([("gnn", "0005_one_record_of_a_version")])

    on_disk = ModelVersion.objects.get(version="20260101-000000-000001")
    assert on_disk.removed_at is None and on_disk.snapshot_at == now
    assert TrainingRun.objects.get(pk=served.pk).published == on_disk
    gone = ModelVersion.objects.get(version="20250101-000000-000001")
    assert gone.removed_at is not None  # its files were pruned before the migration
    assert gone.figure("warm", "ndcg_at_10") == 0.3 and gone.data["ratings"] == 90
    assert TrainingRun.objects.get(pk=pruned.pk).published == gone
    assert TrainingRun.objects.get(pk=failed.pk).published is None
    assert ModelVersion.objects.count() == 2
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
