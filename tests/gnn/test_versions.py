"""Model versions: a publish writes its files and its row together, old ones
are pruned with their rows kept, a rollback pauses automatic retraining."""

import pytest
from django.conf import settings as live

from catalog.models import Movie
from gnn import services
from gnn.bridge import registry
from gnn.models import ModelVersion
from gnn.versions import version_activate, versions_record_unrecorded
from ratings.services import rating_set
from tests.conftest import serving, train_quickly

pytestmark = pytest.mark.usefixtures("no_broker")


def _rate(member, movies, value=4):
    for movie in movies:
        rating_set(user=member, movie=movie, value=value)


def test_a_rollback_pauses_automatic_retraining_until_a_curator_resumes_it(
    trained, member, settings
):
    newer = train_quickly()
    assert newer != trained
    version_activate(version=trained, by="carol")  # the rollback
    settings.RETRAIN_AFTER_RATINGS = 2
    _rate(member, Movie.objects.order_by("pk")[:3])

    assert services.retrain_if_due() is None  # the rollback is not undone
    assert serving() == trained
    assert "paused" in services.retraining_status() and "carol" in services.retraining_status()

    services.retraining_resume()
    assert services.retrain_if_due() is not None


def test_a_publish_writes_the_versions_files_and_its_row_from_the_same_metadata(trained):
    meta = registry.read_metadata(live.MODELS_DIR, trained)
    row = ModelVersion.objects.get(version=trained)
    assert row.metrics == meta.metrics and row.figure("warm", "ndcg_at_10") is not None
    assert (row.created_at, row.snapshot_at, row.data) == (
        meta.created_at,
        meta.snapshot_at,
        meta.data.as_json(),
    )
    assert row.training_run_id == meta.training_run and row.removed_at is None


def test_pruned_versions_keep_their_rows_marked_removed(trained, settings):
    published = [trained, *(train_quickly() for _ in range(3))]
    on_disk = {info.version for info in registry.list_versions(live.MODELS_DIR)}
    assert on_disk == set(published[-registry.KEEP :])

    oldest = ModelVersion.objects.get(version=trained)
    assert oldest.removed_at is not None and oldest.metrics  # its figures stay
    assert ModelVersion.objects.filter(removed_at=None).count() == registry.KEEP
    # A removed version cannot be served again: the registry refuses it.
    with pytest.raises(registry.ModelVersionError, match="does not exist"):
        version_activate(version=trained)


def test_folders_without_rows_are_recorded_once_and_gone_folders_marked(trained):
    ModelVersion.objects.all().delete()  # as before versions had rows
    assert versions_record_unrecorded() == 1
    assert versions_record_unrecorded() == 0
    row = ModelVersion.objects.get(version=trained)
    assert row.metrics == registry.read_metadata(live.MODELS_DIR, trained).metrics

    ModelVersion.objects.create(version="20200101-000000-000000")  # its folder is gone
    assert versions_record_unrecorded() == 1
    assert ModelVersion.objects.get(version="20200101-000000-000000").removed_at is not None


def test_a_version_published_but_not_activated_is_recorded_and_not_served(trained):
    newer = train_quickly(no_activate=True)
    assert serving() == trained != newer
    assert ModelVersion.objects.filter(version=newer, removed_at=None).exists()
