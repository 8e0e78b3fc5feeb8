import json
import os

import pytest
import torch

from gnn.edge import registry
from gnn.edge.registry import ModelVersionError


def state(value: float = 1.0):
    return {"layer.weight": torch.full((2, 2), value)}


def publish(root, value: float = 1.0, **kwargs):
    return registry.publish(
        root,
        state_dict=state(value),
        preprocessor={"ages": [1, 2]},
        metadata={"metrics": {"rmse": value}},
        **kwargs,
    )


def test_publish_writes_a_complete_version_and_makes_it_current(tmp_path):
    version = publish(tmp_path)

    assert registry.current_version(tmp_path) == version
    assert os.readlink(tmp_path / "current") == f"versions/{version}"
    loaded = registry.load_version(tmp_path, version)
    assert torch.equal(loaded.state_dict["layer.weight"], state()["layer.weight"])
    assert loaded.preprocessor == {"ages": [1, 2]}
    assert loaded.metadata["metrics"] == {"rmse": 1.0}
    assert loaded.metadata["format"] == registry.FORMAT
    assert loaded.metadata["version"] == version


def test_publish_without_activate_leaves_current_alone(tmp_path):
    first = publish(tmp_path)
    second = publish(tmp_path, 2.0, activate=False)
    assert registry.current_version(tmp_path) == first
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
        ("gnn.edge.registry._fsync_file", 3),  # flushing
        ("os.replace", 1),  # renaming the staged version into place
        ("os.symlink", 1),  # making the temporary link
        ("os.replace", 2),  # moving `current`
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
        "gnn.edge.registry": registry,
        "os": os,
    }[module]
    monkeypatch.setattr(owner, name, _fail_on_call(getattr(owner, name), failing_call))

    with pytest.raises(OSError, match="simulated crash"):
        publish(tmp_path, 2.0)
    monkeypatch.undo()

    assert registry.current_version(tmp_path) == old
    assert registry.load_version(tmp_path, old).metadata["metrics"] == {"rmse": 1.0}
    assert not list(tmp_path.glob(".current-*"))
    assert not list((tmp_path / "versions").glob(".tmp-*"))


def test_rollback_points_current_at_an_earlier_version(tmp_path):
    first = publish(tmp_path, 1.0)
    publish(tmp_path, 2.0)

    registry.activate_version(tmp_path, first)

    assert registry.current_version(tmp_path) == first


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
    assert registry.current_version(tmp_path) == oldest


def test_corrupted_weights_are_refused_with_a_clear_error(tmp_path):
    good = publish(tmp_path, 1.0)
    bad = publish(tmp_path, 2.0, activate=False)
    weights = tmp_path / "versions" / bad / "model.pt"
    weights.write_bytes(weights.read_bytes()[:-10])

    with pytest.raises(ModelVersionError, match=r"corrupt: model\.pt does not match"):
        registry.load_version(tmp_path, bad)
    with pytest.raises(ModelVersionError):
        registry.activate_version(tmp_path, bad)
    assert registry.current_version(tmp_path) == good


def test_corrupted_metadata_is_refused_with_a_clear_error(tmp_path):
    version = publish(tmp_path)
    (tmp_path / "versions" / version / "metadata.json").write_text('{"format": 1, "metr')

    with pytest.raises(ModelVersionError, match=r"metadata\.json is corrupt"):
        registry.load_version(tmp_path, version)
    info = registry.list_versions(tmp_path)[0]
    assert info.error and "corrupt" in info.error


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
