"""A version's metadata and a refresh's record, parsed once into typed objects."""

from datetime import UTC, datetime

import pytest

from gnn.bridge.metadata import (
    DataCounts,
    MetadataError,
    RefreshInfo,
    RefreshSource,
    VersionMetadata,
    figure,
)

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_metadata_round_trips_through_json_with_dates_as_dates():
    meta = VersionMetadata(
        version="20260304-050607-000001",
        format=4,
        created_at=WHEN,
        snapshot_at=WHEN,
        data=DataCounts(users=3, movies=4, ratings=20, training_ratings=18),
        metrics={"warm": {"model": {"ndcg_at_10": 0.5}}},
        history=[{"step": 30, "ndcg_at_10": 0.4}],
        trigger="admin",
        training_run=7,
        training_seconds=1.5,
    )
    raw = meta.as_json()
    assert raw["created_at"] == "2026-03-04T05:06:07+00:00"
    assert raw["data"] == {"users": 3, "movies": 4, "ratings": 20, "training_ratings": 18}
    assert VersionMetadata.from_json(raw) == meta


def test_metadata_of_an_older_release_reads_with_defaults_for_what_it_lacks():
    meta = VersionMetadata.from_json({"version": "v", "format": 3, "created_at": "2025-01-01"})
    assert meta.snapshot_at is None and meta.metrics == {} and meta.data == DataCounts()
    assert meta.created_at == datetime(2025, 1, 1)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "not an object"),
        ({"created_at": 12}, "is not a date"),
        ({"training_run": "seven"}, "training_run is str, not int"),
        ({"best_step": True}, "not a number"),
        ({"data": {"users": 1.5}}, "users is float, not int"),
        ({"history": "long"}, "history is str, not list"),
    ],
)
def test_metadata_of_the_wrong_shape_is_refused_naming_the_field(raw, message):
    with pytest.raises(MetadataError, match=message):
        VersionMetadata.from_json(raw)


def test_a_figure_is_a_finite_number_or_none():
    metrics = {
        "warm": {"model": {"ndcg_at_10": 0.5, "rmse": float("nan")}, "chosen": {"x": 1}},
        "cold": "garbled",
    }
    assert figure(metrics, "warm", "ndcg_at_10") == 0.5
    assert figure(metrics, "warm", "rmse") is None
    assert figure(metrics, "warm", "x", method="chosen") == 1.0
    assert figure(metrics, "cold", "ndcg_at_10") is None
    assert figure(metrics, "first_5", "ndcg_at_10") is None


def test_a_refresh_records_what_it_was_computed_from():
    source = RefreshSource(
        snapshot_at=WHEN, catalogue="stamp", data=DataCounts(2, 3, 4), seconds=0.123
    )
    raw = {**source.as_json(), "refresh": "r1", "file": "serving-r1.npz", "format": 1,
           "sha256": "ab", "published_at": "2026-03-04T05:06:08+00:00"}  # fmt: skip
    info = RefreshInfo.from_json(raw)
    assert info.snapshot_at == WHEN and info.catalogue == "stamp"
    assert info.data == DataCounts(users=2, movies=3, ratings=4) and info.seconds == 0.12
    assert info.published_at > info.snapshot_at and info.refresh == "r1"
