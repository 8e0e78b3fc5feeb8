"""Carrying out training runs and refreshes: claims, failures, the gate's
verdict, the heartbeat, the curve, and what is published."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as live

from gnn import runs, services
from gnn.bridge import registry
from gnn.models import ModelVersion, TrainingRun
from tests.conftest import serving

pytestmark = pytest.mark.usefixtures("no_broker")


def test_a_run_is_claimed_once(trained, monkeypatch):
    run = TrainingRun.objects.create(trigger="admin")
    monkeypatch.setattr("gnn.bridge.pipeline.train_from_database", _fake_training)
    first = runs.training_run_execute(run_id=run.pk)
    second = runs.training_run_execute(run_id=run.pk)
    assert first is not None and first.pk == run.pk
    assert second is None


def _fake_training(**_):
    raise RuntimeError("simulated failure")


def test_a_failing_run_is_marked_failed_and_frees_the_slot(trained, monkeypatch):
    monkeypatch.setattr("gnn.bridge.pipeline.train_from_database", _fake_training)
    run = TrainingRun.objects.create(trigger="admin")
    runs.training_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and run.active is None
    assert "simulated failure" in run.error
    assert services.training_request(trigger="admin") is not None


def test_a_version_the_gate_rejects_is_published_not_served_and_the_run_says_why(trained, settings):

    from gnn.bridge import registry

    settings.QUALITY_GATE_MIN_RATINGS = 0
    path = registry.versions_dir(live.MODELS_DIR) / trained / registry.METADATA_FILE
    import json

    metadata = json.loads(path.read_text())
    metadata["metrics"]["warm"]["model"]["ndcg_at_10"] = 0.99  # a served version far ahead
    path.write_text(json.dumps(metadata))

    run = runs.training_run_local(trigger="command")

    assert run.status == "rejected"
    assert "below the served version" in run.error
    assert run.published.version != trained  # published for inspection, not served
    assert serving() == trained


def test_the_heartbeat_goes_on_while_a_run_evaluates_and_a_run_taken_for_dead_stays_failed(
    trained_committed, settings, monkeypatch
):
    import time as clock

    from gnn.bridge import pipeline

    settings.TRAINING_STALE_SECONDS = 0.4  # a beat every 0.1 s
    real_evaluate = pipeline.evaluate
    beats = []

    def slow_evaluate(trained_model, split):
        started = TrainingRun.objects.get(active=True).heartbeat_at
        clock.sleep(1.0)  # an evaluation that reports no progress
        beats.append(TrainingRun.objects.get(active=True).heartbeat_at > started)
        return real_evaluate(trained_model, split)

    monkeypatch.setattr(pipeline, "evaluate", slow_evaluate)
    run = runs.training_run_local(trigger="command")
    assert beats == [True]
    assert run.status == "succeeded"

    # A run marked failed by someone else while it finished stays failed.
    def marked_dead(trained_model, split):
        TrainingRun.objects.filter(active=True).update(
            status="failed", active=None, error="taken for dead"
        )
        return real_evaluate(trained_model, split)

    monkeypatch.setattr(pipeline, "evaluate", marked_dead)
    settings.TRAINING_STALE_SECONDS = 120
    before = set(registry_versions())
    run = runs.training_run_local(trigger="command")
    assert run.status == "failed" and run.error == "taken for dead"
    assert set(registry_versions()) == before  # nothing published


def registry_versions():

    from gnn.bridge import registry

    return [info.version for info in registry.list_versions(live.MODELS_DIR)]


def test_a_run_keeps_its_training_curve_and_a_failed_one_what_it_reached(
    trained_committed, monkeypatch, admin_client
):
    from django.urls import reverse

    from gnn.bridge import pipeline

    run = runs.training_run_local(trigger="command")
    assert run.status == "succeeded" and len(run.curve) >= 1
    assert all({"step", "ndcg_at_10", "rmse"} <= set(check) for check in run.curve)
    steps = [check["step"] for check in run.curve]
    assert steps == sorted(steps)
    page = admin_client.get(reverse("admin:gnn_trainingrun_change", args=[run.pk]))
    assert 'data-testid="training-curve"' in page.text and "The figures as a table" in page.text

    def broken_evaluate(trained_model, split):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(pipeline, "evaluate", broken_evaluate)
    failed = runs.training_run_local(trigger="command")
    assert failed.status == "failed" and "the disk went away" in failed.error
    assert len(failed.curve) >= 1  # the checks before the failure are kept
    page = admin_client.get(reverse("admin:gnn_trainingrun_change", args=[failed.pk]))
    assert 'data-testid="training-curve"' in page.text


def test_only_one_run_trains_at_a_time_from_the_command_too(trained):
    active = services.training_request(trigger="admin")
    with pytest.raises(services.RunInProgress, match=f"training run {active.pk} is queued"):
        runs.training_run_local(trigger="command")


def test_a_succeeded_run_points_at_the_version_it_published(trained):
    run = TrainingRun.objects.get()
    version = ModelVersion.objects.get(version=trained)
    assert run.published == version and version.training_run == run
    assert run.ratings_count == version.data["ratings"]
    assert run.snapshot_at == version.snapshot_at


def test_a_refresh_is_skipped_when_nothing_changed_unless_forced(trained):
    assert runs.refresh_serving() is None
    forced = runs.refresh_serving(force=True)
    assert forced is not None and forced.version == trained and forced.refresh
    _, arrays = registry.load_serving(live.MODELS_DIR, trained)
    assert arrays.refresh == forced.refresh


def _training_processes() -> list[int]:
    """Pids of the processes torchrun started (not torchrun itself) for this
    test's models folder: another suite running beside this one has its own
    (an orphan keeps its command line, so it still counts here)."""
    ours = str(live.MODELS_DIR).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        trainer = b"gnn.ml.distributed" in command and b"torch.distributed.run" not in command
        if trainer and any(ours in argument for argument in command):
            found.append(int(entry.name))
    return found


def _kill_a_training_process_once_running(stop: threading.Event) -> None:
    while not stop.is_set():
        pids = _training_processes()
        if len(pids) == 2:
            time.sleep(1.0)  # both past their start
            os.kill(pids[-1], signal.SIGKILL)
            return
        time.sleep(0.05)


def test_training_in_two_processes_publishes_and_a_killed_process_fails_the_run_cleanly(
    trained, settings
):
    settings.TRAINING_PROCESSES = 2
    settings.TRAINING_MAX_STEPS = 20
    settings.TRAINING_INCREMENTAL = False  # a continued run stays in the worker

    run = runs.training_run_local(trigger="command")

    assert run.status == "succeeded", run.error
    version = run.published.version
    assert serving() == version
    metadata = registry.read_metadata(live.MODELS_DIR, version)
    assert metadata.chosen_on_validation["processes"] == 2
    assert not list((Path(live.MODELS_DIR) / "training").iterdir())  # the snapshot is gone

    settings.TRAINING_MAX_STEPS = 100_000  # long enough to be killed midway
    stop = threading.Event()
    killer = threading.Thread(target=_kill_a_training_process_once_running, args=(stop,))
    killer.start()
    try:
        failed = runs.training_run_local(trigger="command")
    finally:
        stop.set()
        killer.join()

    assert failed.status == "failed" and "training processes exited" in failed.error
    assert serving() == version and ModelVersion.objects.count() == 2
    assert not _training_processes()  # none left behind
