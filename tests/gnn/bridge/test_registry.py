import json
import os
from datetime import UTC, datetime

import numpy as np
import pytest
import torch

from gnn.bridge import registry, weights
from gnn.bridge.metadata import DataCounts, RefreshSource, VersionMetadata
from gnn.bridge.registry import ModelVersionError
from gnn.ml.arrays import MATRICES, SCALARS, ServingArrays

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)


def state(value: float = 1.0):
    return {"layer.weight": torch.full((2, 2), value)}


def arrays(value: float = 1.0) -> ServingArrays:
    """Tiny but consistent serving arrays: 3 movies, 2 dimensions."""
    m, d = 3, 2
    shapes = {
        "movie_ids": (m,), "messages1": (m, 6, d), "messages2": (m, 6, d), "movies": (m, d),
        "rate_q": (m, d), "rank_bias": (m,), "rate_bias": (m,), "base_bias": (m,),
        "ease": (0, 0), "ease_nodes": (0,), "prior": (0, m), "user_in1_w": (d, 4),
        "user_in1_b": (d,),
        "user_in2_w": (d, d), "user_in2_b": (d,), "root1_w": (d, d), "root1_b": (d,),
        "root2_w": (d, d), "root2_b": (d,), "rate_p": (d, d),
    }  # fmt: skip
    values = {name: np.full(shapes[name], value, dtype=np.float32) for name in MATRICES}
    values["movie_ids"] = np.arange(1, m + 1)
    values.update({name: value for name in SCALARS})
    return ServingArrays(**values)


def source(when: datetime = JAN_1) -> RefreshSource:
    return RefreshSource(snapshot_at=when, catalogue="c", data=DataCounts(2, 3, 4), seconds=0.5)


def publish(root, value: float = 1.0, *, activate: bool = True) -> str:
    """What gnn.versions.version_publish does with the files: publish, serve
    (unless told not to), prune."""
    candidate = registry.Candidate(
        metadata=VersionMetadata(
            version="",
            format=0,
            created_at=None,
            snapshot_at=JAN_1,
            data=DataCounts(users=2, movies=3, ratings=4, training_ratings=3),
            metrics={"warm": {"model": {"rmse": value}}},
            trigger="command",
        ),
        write_model=weights.writer(state(value)),
        preprocessor={"ages": [1, 2]},
        serving=arrays(value),
        source=source(),
        serve=True,
        gate="passed",
    )
    version = registry.publish(root, candidate).version
    if activate:
        registry.activate_version(root, version)
    registry.prune(root)
    return version


def current(root) -> str | None:
    served = registry.served_versions(root)
    return served[0] if served else None


def test_publish_writes_a_complete_version_that_serving_it_makes_current(tmp_path):
    version = publish(tmp_path)

    assert current(tmp_path) == version
    assert os.readlink(tmp_path / "current") == f"versions/{version}"
    loaded, state_dict = weights.load_state_dict(tmp_path, version)
    assert torch.equal(state_dict["layer.weight"], state()["layer.weight"])
    _, serving = registry.load_serving(tmp_path, version)
    assert serving.refresh == version and serving.arrays.movies.shape == (3, 2)
    assert serving.info.snapshot_at == JAN_1 and serving.info.data.ratings == 4
    assert loaded.preprocessor == {"ages": [1, 2]}
    meta = loaded.metadata
    assert meta.figure("warm", "rmse") == 1.0
    assert (meta.format, meta.version, meta.snapshot_at) == (registry.FORMAT, version, JAN_1)
    assert meta.data == DataCounts(users=2, movies=3, ratings=4, training_ratings=3)
    assert meta.created_at is not None and meta.created_at.tzinfo is not None


def test_the_served_versions_are_current_then_those_also_served(tmp_path):
    first = publish(tmp_path)
    second = publish(tmp_path, 2.0, activate=False)
    assert registry.served_versions(tmp_path) == (first,)
    assert registry.served(tmp_path).version == first

    registry.set_also_served(tmp_path, [second, first])
    assert registry.served_versions(tmp_path) == (first, second)

    registry.set_also_served(tmp_path, [])
    assert registry.served_versions(tmp_path) == (first,)
    with pytest.raises(ModelVersionError, match="does not exist"):
        registry.set_also_served(tmp_path, ["20200101-000000-000000"])


def test_nothing_is_served_before_a_version_is_activated(tmp_path):
    publish(tmp_path, activate=False)
    assert registry.served_versions(tmp_path) == ()
    assert registry.served(tmp_path) is None


def test_publish_without_activate_leaves_current_alone(tmp_path):
    first = publish(tmp_path)
    second = publish(tmp_path, 2.0, activate=False)
    assert current(tmp_path) == first
    assert {v.version for v in registry.list_versions(tmp_path)} == {first, second}


def _fail_on_call(original, failing_call):
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == failing_call:
            raise OSError("simulated crash")
        return original(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize(
    ("target", "failing_call"),
    [
        ("torch.save", 1),  # writing the weights
        ("pathlib.Path.write_text", 1),  # writing preprocessor.json
        ("pathlib.Path.write_text", 2),  # writing metadata.json
        ("pathlib.Path.write_text", 3),  # writing serving.json
        ("gnn.bridge.registry._fsync_file", 3),  # flushing
        ("os.replace", 1),  # renaming the serving arrays into place
        ("os.replace", 2),  # renaming serving.json into place
        ("os.replace", 3),  # renaming the staged version into place
        ("os.symlink", 1),  # making the temporary link
        ("os.replace", 4),  # moving `current`
    ],
)
def test_interrupted_publish_leaves_current_on_a_loadable_version(
    tmp_path, monkeypatch, target, failing_call
):
    old = publish(tmp_path)
    module, _, name = target.rpartition(".")
    owner = {
        "torch": torch,
        "pathlib.Path": __import__("pathlib").Path,
        "gnn.bridge.registry": registry,
        "os": os,
    }[module]
    monkeypatch.setattr(owner, name, _fail_on_call(getattr(owner, name), failing_call))

    with pytest.raises(OSError, match="simulated crash"):
        publish(tmp_path, 2.0)
    monkeypatch.undo()

    assert current(tmp_path) == old
    assert registry.load_version(tmp_path, old).metadata.figure("warm", "rmse") == 1.0
    assert not list(tmp_path.glob(".current-*"))
    assert not list((tmp_path / "versions").glob(".tmp-*"))


def test_rollback_points_current_at_an_earlier_version(tmp_path):
    first = publish(tmp_path, 1.0)
    publish(tmp_path, 2.0)

    registry.activate_version(tmp_path, first)

    assert current(tmp_path) == first


def test_only_the_newest_three_versions_are_kept(tmp_path):
    published = [publish(tmp_path, float(i)) for i in range(5)]

    remaining = [v.version for v in registry.list_versions(tmp_path)]

    assert remaining == list(reversed(published[-3:]))


def test_pruning_never_removes_the_current_version(tmp_path):
    oldest = publish(tmp_path, 0.0)
    for value in (1.0, 2.0):
        publish(tmp_path, value)
    registry.activate_version(tmp_path, oldest)

    publish(tmp_path, 3.0, activate=False)

    remaining = {v.version for v in registry.list_versions(tmp_path)}
    assert oldest in remaining
    assert current(tmp_path) == oldest


def test_pruning_never_removes_a_version_also_served(tmp_path):
    oldest = publish(tmp_path, 0.0)
    registry.set_also_served(tmp_path, [oldest])
    latest = [publish(tmp_path, float(i)) for i in range(1, 5)]

    remaining = {v.version for v in registry.list_versions(tmp_path)}
    assert remaining == {oldest, *latest[-3:]}
    assert registry.served_versions(tmp_path) == (latest[-1], oldest)


def test_corrupted_weights_are_refused_with_a_clear_error(tmp_path):
    good = publish(tmp_path, 1.0)
    bad = publish(tmp_path, 2.0, activate=False)
    file = tmp_path / "versions" / bad / "model.pt"
    file.write_bytes(file.read_bytes()[:-10])

    with pytest.raises(ModelVersionError, match=r"corrupt: model\.pt does not match"):
        weights.load_state_dict(tmp_path, bad)
    with pytest.raises(ModelVersionError):
        registry.activate_version(tmp_path, bad)
    assert current(tmp_path) == good


def test_corrupted_metadata_is_refused_with_a_clear_error(tmp_path):
    version = publish(tmp_path)
    (tmp_path / "versions" / version / "metadata.json").write_text('{"format": 1, "metr')

    with pytest.raises(ModelVersionError, match=r"metadata\.json is corrupt"):
        registry.load_version(tmp_path, version)
    info = registry.list_versions(tmp_path)[0]
    assert info.error and "corrupt" in info.error
    assert registry.served(tmp_path) is None  # nothing readable to compare with


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("snapshot_at", "last tuesday", "is not a date"),
        ("data", {"ratings": "many"}, "ratings is str, not int"),
        ("metrics", [1, 2], "metrics is list, not dict"),
        ("format", True, "not a number"),
    ],
)
def test_metadata_of_the_wrong_shape_is_refused_saying_which_field(tmp_path, field, value, message):
    version = publish(tmp_path)
    path = tmp_path / "versions" / version / "metadata.json"
    raw = json.loads(path.read_text())
    raw[field] = value
    path.write_text(json.dumps(raw))

    with pytest.raises(ModelVersionError, match=message):
        registry.read_metadata(tmp_path, version)


def test_metadata_is_read_again_when_its_file_is_replaced(tmp_path):
    version = publish(tmp_path)
    assert registry.read_metadata(tmp_path, version).trigger == "command"
    path = tmp_path / "versions" / version / "metadata.json"
    raw = json.loads(path.read_text())
    raw["trigger"] = "admin"
    path.write_text(json.dumps(raw) + "\n")

    assert registry.read_metadata(tmp_path, version).trigger == "admin"


def test_incompatible_format_is_refused(tmp_path):
    version = publish(tmp_path)
    path = tmp_path / "versions" / version / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["format"] = registry.FORMAT + 1
    path.write_text(json.dumps(metadata))

    with pytest.raises(ModelVersionError, match="artifact format"):
        registry.load_version(tmp_path, version)


def test_unknown_version_names_are_refused(tmp_path):
    publish(tmp_path)
    with pytest.raises(ModelVersionError, match="does not exist"):
        registry.load_version(tmp_path, "20200101-000000-abcdef")
    with pytest.raises(ModelVersionError, match="not a version name"):
        registry.load_version(tmp_path, "../etc")


def test_a_refresh_is_published_inside_its_version_and_survives_a_rollback(tmp_path):
    first = publish(tmp_path, 1.0)
    refresh = registry.publish_refresh(
        tmp_path, first, arrays(5.0), source(datetime(2026, 1, 2, tzinfo=UTC))
    )
    _, serving = registry.load_serving(tmp_path, first)
    assert serving.refresh == refresh > first and float(serving.arrays.mu) == 5.0
    # An older snapshot finishing late is dropped, not published over the newer.
    late = source(datetime(2026, 1, 1, 12, tzinfo=UTC))
    assert registry.publish_refresh(tmp_path, first, arrays(7.0), late) is None
    second = publish(tmp_path, 2.0)
    assert current(tmp_path) == second
    for value in (3.0, 4.0):  # refreshes are not versions: nothing is pushed out
        registry.publish_refresh(
            tmp_path, second, arrays(value), source(datetime(2026, 2, int(value), tzinfo=UTC))
        )
    assert {v.version for v in registry.list_versions(tmp_path)} == {first, second}
    assert len(list((tmp_path / "versions" / second).glob("serving-*.npz"))) == 2

    registry.activate_version(tmp_path, first)
    assert registry.load_serving(tmp_path, first)[1].refresh == refresh


def test_corrupted_serving_arrays_are_refused(tmp_path):
    version = publish(tmp_path)
    file = next((tmp_path / "versions" / version).glob("serving-*.npz"))
    file.write_bytes(file.read_bytes()[:-10])
    with pytest.raises(ModelVersionError, match="does not match its recorded checksum"):
        registry.load_serving(tmp_path, version)
