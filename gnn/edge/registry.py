"""Versioned model artifacts, their serving arrays and the atomic `current` link.

    models/versions/<version>/model.pt           state_dict: training, evaluation, refreshes
    models/versions/<version>/preprocessor.json  feature scaling and vocabularies
    models/versions/<version>/metadata.json      version, date, counts, metrics, curves,
                                                 hyperparameters, format, checksums
    models/versions/<version>/serving-<refresh>.npz  what a web process serves from
                                                 (gnn.ml.arrays): movie states, messages,
                                                 dense layers, biases
    models/versions/<version>/serving.json       names the latest refresh, with its
                                                 checksum, format and data counts
    models/current -> versions/<version>

A version is written completely and flushed under a temporary name, then
renamed into place; `current` is moved with a temporary symlink and
os.replace, which is atomic on POSIX. A crash at any moment therefore leaves
`current` pointing at a complete version. A refresh (new movie states from
the current ratings, same weights) writes a new ``serving-<refresh>.npz``
beside the others, then replaces ``serving.json`` the same way; it is not a
version, so it pushes none out of the kept three, and serving a version again
serves its latest refresh. Treat these files like data: a corrupt or
incompatible version is refused with a clear error.

No torch here: web processes read versions through this module (the weights
are read and written by gnn.edge.weights, in the processes that train).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from gnn.ml.arrays import FORMAT as ARRAYS_FORMAT
from gnn.ml.arrays import ServingArrays

# Bump when the artifact layout or the model's state_dict shape changes in a
# way older code cannot read.
FORMAT = 4  # 3: the item-item channel and the prior; 4: serving arrays (web without torch)
KEEP = 3
KEEP_REFRESHES = 2  # a process that just read serving.json can still open the one before
_STALE_TEMP_SECONDS = 3600

MODEL_FILE = "model.pt"
PREPROCESSOR_FILE = "preprocessor.json"
METADATA_FILE = "metadata.json"
SERVING_FILE = "serving.json"


class ModelVersionError(Exception):
    """A version is missing, incomplete, corrupt or incompatible."""


@dataclass(frozen=True)
class LoadedVersion:
    """A verified version without its weights (gnn.edge.weights reads those)."""

    version: str
    path: Path
    preprocessor: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Serving:
    """A version's latest serving arrays and what they were computed from."""

    version: str
    refresh: str  # the refresh's stamp (the version's name for the first one)
    info: dict[str, Any]
    arrays: ServingArrays


def versions_dir(root: Path) -> Path:
    return Path(root) / "versions"


def new_version_name() -> str:
    """Sortable by time to the microsecond, so "newest" is the name order."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def new_refresh_name() -> str:
    return new_version_name()


def publish(
    root: Path,
    *,
    write_model: Callable[[Path], None],
    preprocessor: dict[str, Any],
    metadata: dict[str, Any],
    serving: ServingArrays,
    serving_info: dict[str, Any],
    activate: bool = True,
    keep: int = KEEP,
) -> str:
    """Write a new version completely (``write_model`` writes the weights to
    the path it is given), then (optionally) make it current."""
    root = Path(root)
    versions = versions_dir(root)
    versions.mkdir(parents=True, exist_ok=True)
    version = new_version_name()
    staging = versions / f".tmp-{version}"
    staging.mkdir()
    try:
        write_model(staging / MODEL_FILE)
        (staging / PREPROCESSOR_FILE).write_text(json.dumps(preprocessor, indent=2, sort_keys=True))
        full_metadata = {
            **metadata,
            "version": version,
            "format": FORMAT,
            "created_at": _now(),
            "checksums": {
                MODEL_FILE: _sha256(staging / MODEL_FILE),
                PREPROCESSOR_FILE: _sha256(staging / PREPROCESSOR_FILE),
            },
        }
        (staging / METADATA_FILE).write_text(json.dumps(full_metadata, indent=2, sort_keys=True))
        for name in (MODEL_FILE, PREPROCESSOR_FILE, METADATA_FILE):
            _fsync_file(staging / name)
        _write_serving(staging, version, serving, serving_info)
        _fsync_dir(staging)
        os.replace(staging, versions / version)
        _fsync_dir(versions)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if activate:
        activate_version(root, version)
    prune(root, keep=keep)
    return version


def publish_refresh(
    root: Path, version: str, serving: ServingArrays, info: dict[str, Any]
) -> str | None:
    """Publish new serving arrays of ``version`` atomically; the refresh's name.

    Refreshes of one version take turns (a lock file), and one computed from
    an older snapshot than the published one is dropped (None): two refreshes
    that overlap can finish in either order."""
    path = versions_dir(root) / version
    if not (path / METADATA_FILE).is_file():
        raise ModelVersionError(f"version {version} does not exist in {versions_dir(root)}")
    with open(path / ".refresh.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        published = _read_serving_info(path)
        before = (published or {}).get("snapshot_at") or ""
        if before and info.get("snapshot_at") and info["snapshot_at"] < before:
            return None
        refresh = new_refresh_name()
        _write_serving(path, refresh, serving, info)
        _fsync_dir(path)
        _prune_refreshes(path)
    return refresh


def _write_serving(path: Path, refresh: str, serving: ServingArrays, info: dict) -> None:
    """serving-<refresh>.npz, then serving.json naming it (temp file + os.replace)."""
    name = f"serving-{refresh}.npz"
    temporary = path / f".tmp-{secrets.token_hex(4)}.npz"
    try:
        with open(temporary, "wb") as handle:
            # Uncompressed: loading is a read, not a decompression.
            np.savez(handle, **serving.as_mapping())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path / name)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    record = {
        **info,
        "refresh": refresh,
        "file": name,
        "format": ARRAYS_FORMAT,
        "sha256": _sha256(path / name),
        "bytes": (path / name).stat().st_size,
        "published_at": _now(),
    }
    temporary = path / f".tmp-{secrets.token_hex(4)}.json"
    try:
        temporary.write_text(json.dumps(record, indent=2, sort_keys=True))
        _fsync_file(temporary)
        os.replace(temporary, path / SERVING_FILE)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _prune_refreshes(path: Path) -> None:
    latest = (_read_serving_info(path) or {}).get("file")
    older = sorted((p for p in path.glob("serving-*.npz") if p.name != latest), reverse=True)
    for stale in older[KEEP_REFRESHES - 1 :]:
        stale.unlink(missing_ok=True)


def _read_serving_info(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((path / SERVING_FILE).read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelVersionError(f"version {path.name}: {SERVING_FILE} is corrupt ({exc})") from None
    if not isinstance(info, dict):
        raise ModelVersionError(f"version {path.name}: {SERVING_FILE} is not an object")
    return info


def serving_info(root: Path, version: str) -> dict[str, Any] | None:
    """What serving.json says about the version's latest refresh (cheap: one
    small file), or None when the version has none or it cannot be read."""
    try:
        return _read_serving_info(versions_dir(root) / version)
    except (ModelVersionError, OSError):
        return None


def load_serving(root: Path, version: str) -> tuple[LoadedVersion, Serving]:
    """A version and its latest serving arrays, verified; ModelVersionError
    saying what is wrong."""
    loaded = load_version(root, version)
    info = _read_serving_info(loaded.path)
    if info is None:
        raise ModelVersionError(f"version {version} is incomplete: {SERVING_FILE} is missing")
    if info.get("format") != ARRAYS_FORMAT:
        raise ModelVersionError(
            f"version {version} has serving arrays of format {info.get('format')!r}; "
            f"this code reads format {ARRAYS_FORMAT}"
        )
    name = str(info.get("file") or "")
    file = loaded.path / name
    if not name.startswith("serving-") or "/" in name or not file.is_file():
        raise ModelVersionError(
            f"version {version} is incomplete: {name or 'its arrays'} is missing"
        )
    with open(file, "rb") as handle:
        if hashlib.file_digest(handle, "sha256").hexdigest() != info.get("sha256"):
            raise ModelVersionError(
                f"version {version} is corrupt: {name} does not match its recorded checksum"
            )
        handle.seek(0)
        try:
            with np.load(handle, allow_pickle=False) as data:
                arrays = ServingArrays.from_mapping(data)
        except (ValueError, OSError, KeyError) as exc:
            raise ModelVersionError(f"version {version}: {name} cannot be read ({exc})") from None
    return loaded, Serving(version, str(info.get("refresh")), info, arrays)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def activate_version(root: Path, version: str) -> LoadedVersion:
    """Point `current` at ``version`` after checking that it can be served."""
    root = Path(root)
    loaded, _ = load_serving(root, version)
    verify_file(loaded, MODEL_FILE)  # refreshes and evaluations of it need the weights
    link = root / "current"
    temporary = root / f".current-{secrets.token_hex(4)}"
    os.symlink(Path("versions") / version, temporary)
    try:
        os.replace(temporary, link)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_dir(root)
    return loaded


def current_version(root: Path) -> str | None:
    try:
        target = os.readlink(Path(root) / "current")
    except (FileNotFoundError, OSError):
        return None
    return Path(target).name


def is_current_format(root: Path, version: str) -> bool:
    """Whether this code can serve ``version`` (its artifact format is ours)."""
    try:
        return read_metadata(versions_dir(root) / version).get("format") == FORMAT
    except ModelVersionError:
        return False


def load_version(root: Path, version: str) -> LoadedVersion:
    """Read and verify a version; raise ModelVersionError saying what is wrong."""
    if not version or "/" in version or version.startswith("."):
        raise ModelVersionError(f"{version!r} is not a version name")
    path = versions_dir(root) / version
    if not path.is_dir():
        raise ModelVersionError(f"version {version} does not exist in {versions_dir(root)}")
    metadata = read_metadata(path)
    if metadata.get("format") != FORMAT:
        raise ModelVersionError(
            f"version {version} has artifact format {metadata.get('format')!r}; "
            f"this code reads format {FORMAT}"
        )
    checksums = metadata.get("checksums") or {}
    # The weights are verified by whoever reads them (gnn.edge.weights): a web
    # process never does, and hashing them would cost it a read of the file.
    for name in (PREPROCESSOR_FILE,):
        file = path / name
        if not file.is_file():
            raise ModelVersionError(f"version {version} is incomplete: {name} is missing")
        if checksums.get(name) != _sha256(file):
            raise ModelVersionError(
                f"version {version} is corrupt: {name} does not match its recorded checksum"
            )
    if not (path / MODEL_FILE).is_file():
        raise ModelVersionError(f"version {version} is incomplete: {MODEL_FILE} is missing")
    try:
        preprocessor = json.loads((path / PREPROCESSOR_FILE).read_text())
    except Exception as exc:
        raise ModelVersionError(f"version {version} cannot be read: {exc}") from None
    return LoadedVersion(version, path, preprocessor, metadata)


def verify_file(loaded: LoadedVersion, name: str) -> Path:
    """The path of one of the version's files, checked against its checksum."""
    file = loaded.path / name
    if not file.is_file():
        raise ModelVersionError(f"version {loaded.version} is incomplete: {name} is missing")
    if (loaded.metadata.get("checksums") or {}).get(name) != _sha256(file):
        raise ModelVersionError(
            f"version {loaded.version} is corrupt: {name} does not match its recorded checksum"
        )
    return file


def read_metadata(path: Path) -> dict[str, Any]:
    try:
        metadata = json.loads((path / METADATA_FILE).read_text())
    except FileNotFoundError:
        raise ModelVersionError(f"version {path.name} is incomplete: no {METADATA_FILE}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelVersionError(
            f"version {path.name}: {METADATA_FILE} is corrupt ({exc})"
        ) from None
    if not isinstance(metadata, dict):
        raise ModelVersionError(f"version {path.name}: {METADATA_FILE} is not an object")
    return metadata


@dataclass(frozen=True)
class VersionInfo:
    version: str
    metadata: dict[str, Any] | None
    error: str | None
    is_current: bool


def list_versions(root: Path) -> list[VersionInfo]:
    """Every complete version, newest first, with its metadata or why it is unreadable."""
    versions = versions_dir(root)
    if not versions.is_dir():
        return []
    current = current_version(root)
    found = []
    for path in sorted(versions.iterdir(), key=lambda p: p.name, reverse=True):
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            found.append(VersionInfo(path.name, read_metadata(path), None, path.name == current))
        except ModelVersionError as exc:
            found.append(VersionInfo(path.name, None, str(exc), path.name == current))
    return found


def prune(root: Path, *, keep: int = KEEP) -> list[str]:
    """Delete all but the newest ``keep`` versions; never the current one."""
    versions = versions_dir(root)
    current = current_version(root)
    removed = []
    names = sorted(
        (p.name for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")),
        reverse=True,
    )
    for name in names[keep:]:
        if name != current:
            shutil.rmtree(versions / name, ignore_errors=True)
            removed.append(name)
    # Staging directories of publishes that died; a live publish is seconds old.
    for stale in [*versions.glob(".tmp-*"), *versions.glob("*/.tmp-*")]:
        with contextlib.suppress(FileNotFoundError):
            if time.time() - stale.stat().st_mtime > _STALE_TEMP_SECONDS:
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
    return removed
