"""Versioned model artifacts and the atomic `current` link.

    models/versions/<version>/model.pt           state_dict (weights_only=True)
    models/versions/<version>/preprocessor.json  feature scaling and vocabularies
    models/versions/<version>/metadata.json      version, date, counts, metrics,
                                                 hyperparameters, format, checksums
    models/current -> versions/<version>

A version is written completely and flushed under a temporary name, then
renamed into place; `current` is moved with a temporary symlink and
os.replace, which is atomic on POSIX. A crash at any moment therefore leaves
`current` pointing at a complete version. Treat these files like data: a
corrupt or incompatible version is refused with a clear error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

# Bump when the artifact layout or the model's state_dict shape changes in a
# way older code cannot read.
FORMAT = 3  # 2: the centred-rating channel and baseline movie biases; 3: the item-item channel
KEEP = 3
_STALE_TEMP_SECONDS = 3600

MODEL_FILE = "model.pt"
PREPROCESSOR_FILE = "preprocessor.json"
METADATA_FILE = "metadata.json"


class ModelVersionError(Exception):
    """A version is missing, incomplete, corrupt or incompatible."""


@dataclass(frozen=True)
class LoadedVersion:
    version: str
    path: Path
    state_dict: dict[str, torch.Tensor]
    preprocessor: dict[str, Any]
    metadata: dict[str, Any]


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


def publish(
    root: Path,
    *,
    state_dict: dict[str, torch.Tensor],
    preprocessor: dict[str, Any],
    metadata: dict[str, Any],
    activate: bool = True,
    keep: int = KEEP,
) -> str:
    """Write a new version completely, then (optionally) make it current."""
    root = Path(root)
    versions = versions_dir(root)
    versions.mkdir(parents=True, exist_ok=True)
    version = new_version_name()
    staging = versions / f".tmp-{version}"
    staging.mkdir()
    try:
        torch.save(state_dict, staging / MODEL_FILE)
        (staging / PREPROCESSOR_FILE).write_text(json.dumps(preprocessor, indent=2, sort_keys=True))
        full_metadata = {
            **metadata,
            "version": version,
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "checksums": {
                MODEL_FILE: _sha256(staging / MODEL_FILE),
                PREPROCESSOR_FILE: _sha256(staging / PREPROCESSOR_FILE),
            },
        }
        (staging / METADATA_FILE).write_text(json.dumps(full_metadata, indent=2, sort_keys=True))
        for name in (MODEL_FILE, PREPROCESSOR_FILE, METADATA_FILE):
            _fsync_file(staging / name)
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


def activate_version(root: Path, version: str) -> LoadedVersion:
    """Point `current` at ``version`` after checking that it loads."""
    root = Path(root)
    loaded = load_version(root, version)
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
    for name in (MODEL_FILE, PREPROCESSOR_FILE):
        file = path / name
        if not file.is_file():
            raise ModelVersionError(f"version {version} is incomplete: {name} is missing")
        if checksums.get(name) != _sha256(file):
            raise ModelVersionError(
                f"version {version} is corrupt: {name} does not match its recorded checksum"
            )
    try:
        preprocessor = json.loads((path / PREPROCESSOR_FILE).read_text())
        state_dict = torch.load(path / MODEL_FILE, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelVersionError(f"version {version} cannot be read: {exc}") from None
    if not isinstance(state_dict, dict):
        raise ModelVersionError(f"version {version}: {MODEL_FILE} does not hold a state_dict")
    return LoadedVersion(version, path, state_dict, preprocessor, metadata)


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
    for stale in versions.glob(".tmp-*"):
        with contextlib.suppress(FileNotFoundError):
            if time.time() - stale.stat().st_mtime > _STALE_TEMP_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)
    return removed
