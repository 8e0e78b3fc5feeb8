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
    models/also-served.json                      versions served beside `current`
                                                 (an experiment's other arm), if any

A version is written completely and flushed under a temporary name, then
renamed into place; `current` is moved with a temporary symlink and
os.replace, which is atomic on POSIX. A crash at any moment therefore leaves
`current` pointing at a complete version. A refresh (new movie states from
the current ratings, same weights) writes a new ``serving-<refresh>.npz``
beside the others, then replaces ``serving.json`` the same way; it is not a
version, so it pushes none out of the kept three, and serving a version again
serves its latest refresh. Treat these files like data: a corrupt or
incompatible version is refused with a clear error.

This module is the one owner of "which versions are served, and what does
each say": ``served_versions`` names them, ``served`` gives the current one's
metadata, and every metadata file is parsed here, once, into the typed
objects of gnn.bridge.metadata.

No torch here: web processes read versions through this module (the weights
are read and written by gnn.bridge.weights, in the processes that train).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from gnn.bridge.metadata import MetadataError, RefreshInfo, RefreshSource, VersionMetadata
from gnn.ml.arrays import FORMAT as ARRAYS_FORMAT
from gnn.ml.arrays import ServingArrays

# Bump when the artifact layout or the model's state_dict shape changes in a
# way older code cannot read.
# 3: the item-item channel and the prior; 4: serving arrays (web without torch);
# 5: the prior's group for members whose gender is unknown.
FORMAT = 5
KEEP = 3
KEEP_REFRESHES = 2  # a process that just read serving.json can still open the one before
_STALE_TEMP_SECONDS = 3600

MODEL_FILE = "model.pt"
PREPROCESSOR_FILE = "preprocessor.json"
METADATA_FILE = "metadata.json"
SERVING_FILE = "serving.json"
ALSO_SERVED_FILE = "also-served.json"


class ModelVersionError(Exception):
    """A version is missing, incomplete, corrupt or incompatible."""


@dataclass(frozen=True)
class LoadedVersion:
    """A verified version without its weights (gnn.bridge.weights reads those)."""

    version: str
    path: Path
    preprocessor: dict[str, Any]
    metadata: VersionMetadata


@dataclass(frozen=True)
class Serving:
    """A version's latest serving arrays and what they were computed from."""

    version: str
    info: RefreshInfo
    arrays: ServingArrays

    @property
    def refresh(self) -> str:
        return self.info.refresh


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


@dataclass
class Candidate:
    """A trained and measured version, not yet published: what the training
    pipeline hands over and ``publish`` writes."""

    metadata: VersionMetadata  # named and stamped when published
    write_model: Callable[[Path], None]  # writes the weights to the path it is given
    preprocessor: dict[str, Any]
    serving: ServingArrays
    source: RefreshSource  # what the serving arrays were computed from
    serve: bool  # the quality gate's verdict
    gate: str  # and why


def publish(root: Path, candidate: Candidate) -> VersionMetadata:
    """Write a new version completely and return its metadata, named and
    stamped. It is not served yet: ``activate_version`` does that, ``prune``
    tidies after."""
    root = Path(root)
    metadata, serving, source = candidate.metadata, candidate.serving, candidate.source
    versions = versions_dir(root)
    versions.mkdir(parents=True, exist_ok=True)
    version = new_version_name()
    staging = versions / f".tmp-{version}"
    staging.mkdir()
    try:
        candidate.write_model(staging / MODEL_FILE)
        (staging / PREPROCESSOR_FILE).write_text(
            json.dumps(candidate.preprocessor, indent=2, sort_keys=True)
        )
        published = dataclasses.replace(
            metadata,
            version=version,
            format=FORMAT,
            created_at=datetime.now(UTC).replace(microsecond=0),
            checksums={
                MODEL_FILE: _sha256(staging / MODEL_FILE),
                PREPROCESSOR_FILE: _sha256(staging / PREPROCESSOR_FILE),
            },
        )
        (staging / METADATA_FILE).write_text(
            json.dumps(published.as_json(), indent=2, sort_keys=True)
        )
        for name in (MODEL_FILE, PREPROCESSOR_FILE, METADATA_FILE):
            _fsync_file(staging / name)
        _write_serving(staging, version, serving, source)
        _fsync_dir(staging)
        os.replace(staging, versions / version)
        _fsync_dir(versions)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return published


def publish_refresh(
    root: Path, version: str, serving: ServingArrays, source: RefreshSource
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
        before = published.snapshot_at if published else None
        if before and source.snapshot_at and source.snapshot_at < before:
            return None
        refresh = new_refresh_name()
        _write_serving(path, refresh, serving, source)
        _fsync_dir(path)
        _prune_refreshes(path)
    return refresh


def _write_serving(path: Path, refresh: str, serving: ServingArrays, source: RefreshSource) -> None:
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
        **source.as_json(),
        "refresh": refresh,
        "file": name,
        "format": ARRAYS_FORMAT,
        "sha256": _sha256(path / name),
        "bytes": (path / name).stat().st_size,
        "published_at": _now(),
    }
    _write_json(path / SERVING_FILE, record)


def _write_json(file: Path, record: Any) -> None:
    """Replace ``file`` atomically (temp file + fsync + os.replace)."""
    temporary = file.parent / f".tmp-{secrets.token_hex(4)}.json"
    try:
        temporary.write_text(json.dumps(record, indent=2, sort_keys=True))
        _fsync_file(temporary)
        os.replace(temporary, file)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _prune_refreshes(path: Path) -> None:
    published = _read_serving_info(path)
    latest = published.file if published else None
    older = sorted((p for p in path.glob("serving-*.npz") if p.name != latest), reverse=True)
    for stale in older[KEEP_REFRESHES - 1 :]:
        stale.unlink(missing_ok=True)


def _read_serving_info(path: Path) -> RefreshInfo | None:
    try:
        raw = json.loads((path / SERVING_FILE).read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelVersionError(f"version {path.name}: {SERVING_FILE} is corrupt ({exc})") from None
    try:
        return RefreshInfo.from_json(raw)
    except MetadataError as exc:
        raise ModelVersionError(
            f"version {path.name}: {SERVING_FILE} is unreadable: {exc}"
        ) from None


def serving_info(root: Path, version: str) -> RefreshInfo | None:
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
    if info.format != ARRAYS_FORMAT:
        raise ModelVersionError(
            f"version {version} has serving arrays of format {info.format!r}; "
            f"this code reads format {ARRAYS_FORMAT}"
        )
    name = info.file
    file = loaded.path / name
    if not name.startswith("serving-") or "/" in name or not file.is_file():
        raise ModelVersionError(
            f"version {version} is incomplete: {name or 'its arrays'} is missing"
        )
    with open(file, "rb") as handle:
        if hashlib.file_digest(handle, "sha256").hexdigest() != info.sha256:
            raise ModelVersionError(
                f"version {version} is corrupt: {name} does not match its recorded checksum"
            )
        handle.seek(0)
        try:
            with np.load(handle, allow_pickle=False) as data:
                arrays = ServingArrays.from_mapping(data)
        except (ValueError, OSError, KeyError) as exc:
            raise ModelVersionError(f"version {version}: {name} cannot be read ({exc})") from None
    return loaded, Serving(version, info, arrays)


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


def _current(root: Path) -> str | None:
    """The version the `current` link points at (the registry's own reading)."""
    try:
        target = os.readlink(Path(root) / "current")
    except (FileNotFoundError, OSError):
        return None
    return Path(target).name


def served_versions(root: Path) -> tuple[str, ...]:
    """Every version a web process should hold, the current one first: the
    `current` link, then those named by also-served.json that exist."""
    current = _current(root)
    also = [v for v in _also_served(root) if v != current and (versions_dir(root) / v).is_dir()]
    return tuple(([current] if current else []) + also)


def served(root: Path) -> VersionMetadata | None:
    """The current version's metadata, or None when nothing is served or its
    metadata cannot be read (then nothing is there to compare with)."""
    version = _current(root)
    if version is None:
        return None
    try:
        return read_metadata(root, version)
    except ModelVersionError:
        return None


def set_also_served(root: Path, versions: list[str]) -> None:
    """Serve these versions beside `current` (an experiment's arms), atomically;
    an empty list serves `current` alone. They are kept by ``prune``."""
    for version in versions:
        _check_name(version)
        if not (versions_dir(root) / version / METADATA_FILE).is_file():
            raise ModelVersionError(f"version {version} does not exist in {versions_dir(root)}")
    Path(root).mkdir(parents=True, exist_ok=True)
    _write_json(Path(root) / ALSO_SERVED_FILE, {"versions": list(dict.fromkeys(versions))})
    _fsync_dir(Path(root))


def _also_served(root: Path) -> list[str]:
    try:
        raw = json.loads((Path(root) / ALSO_SERVED_FILE).read_text())
    except FileNotFoundError:
        return []
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return []  # unreadable: `current` alone is still served
    versions = raw.get("versions") if isinstance(raw, dict) else None
    return [v for v in versions or [] if isinstance(v, str)]


def _check_name(version: str) -> None:
    if not version or "/" in version or version.startswith("."):
        raise ModelVersionError(f"{version!r} is not a version name")


def load_version(root: Path, version: str) -> LoadedVersion:
    """Read and verify a version; raise ModelVersionError saying what is wrong."""
    _check_name(version)
    path = versions_dir(root) / version
    if not path.is_dir():
        raise ModelVersionError(f"version {version} does not exist in {versions_dir(root)}")
    metadata = read_metadata(root, version)
    if metadata.format != FORMAT:
        raise ModelVersionError(
            f"version {version} has artifact format {metadata.format!r}; "
            f"this code reads format {FORMAT}"
        )
    # The weights are verified by whoever reads them (gnn.bridge.weights): a web
    # process never does, and hashing them would cost it a read of the file.
    for name in (PREPROCESSOR_FILE,):
        file = path / name
        if not file.is_file():
            raise ModelVersionError(f"version {version} is incomplete: {name} is missing")
        if metadata.checksums.get(name) != _sha256(file):
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
    if loaded.metadata.checksums.get(name) != _sha256(file):
        raise ModelVersionError(
            f"version {loaded.version} is corrupt: {name} does not match its recorded checksum"
        )
    return file


# metadata.json is written once, when its version is published: a parsed copy
# stays valid while the file is the same one (checked by one stat per read).
_metadata_cache: dict[Path, tuple[tuple[int, int, int], VersionMetadata]] = {}
_metadata_lock = threading.Lock()


def read_metadata(root: Path, version: str) -> VersionMetadata:
    """The version's metadata.json, parsed; ModelVersionError saying what is wrong."""
    _check_name(version)
    file = versions_dir(root) / version / METADATA_FILE
    try:
        stat = file.stat()
    except FileNotFoundError:
        raise ModelVersionError(f"version {version} is incomplete: no {METADATA_FILE}") from None
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    with _metadata_lock:
        cached = _metadata_cache.get(file)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        metadata = VersionMetadata.from_json(json.loads(file.read_text()))
    except FileNotFoundError:
        raise ModelVersionError(f"version {version} is incomplete: no {METADATA_FILE}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelVersionError(f"version {version}: {METADATA_FILE} is corrupt ({exc})") from None
    except MetadataError as exc:
        raise ModelVersionError(
            f"version {version}: {METADATA_FILE} is unreadable: {exc}"
        ) from None
    with _metadata_lock:
        _metadata_cache[file] = (key, metadata)
    return metadata


@dataclass(frozen=True)
class VersionInfo:
    version: str
    metadata: VersionMetadata | None
    error: str | None
    is_current: bool


def list_versions(root: Path) -> list[VersionInfo]:
    """Every complete version, newest first, with its metadata or why it is unreadable."""
    versions = versions_dir(root)
    if not versions.is_dir():
        return []
    current = _current(root)
    found = []
    for path in sorted(versions.iterdir(), key=lambda p: p.name, reverse=True):
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            found.append(
                VersionInfo(path.name, read_metadata(root, path.name), None, path.name == current)
            )
        except ModelVersionError as exc:
            found.append(VersionInfo(path.name, None, str(exc), path.name == current))
    return found


def prune(root: Path, *, keep: int = KEEP) -> list[str]:
    """Delete all but the newest ``keep`` versions; never a served one."""
    versions = versions_dir(root)
    if not versions.is_dir():
        return []
    kept = set(served_versions(root))
    removed = []
    names = sorted(
        (p.name for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")),
        reverse=True,
    )
    for name in names[keep:]:
        if name not in kept:
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
