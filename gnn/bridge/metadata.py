"""What a version's files say about it, as typed objects parsed once.

``metadata.json`` (written once, when the version is published) becomes a
:class:`VersionMetadata`; ``serving.json`` (rewritten by each refresh)
becomes a :class:`RefreshInfo`. Dates are dates, counts are integers, and a
file that does not have the shape is refused with a message (the registry
turns it into ModelVersionError), so no caller picks a dict apart.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any


class MetadataError(ValueError):
    """A metadata file does not have the shape this code writes."""


def parse_moment(value: Any) -> datetime | None:
    """An ISO 8601 moment (as the files store it), or None when absent."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise MetadataError(f"{value!r} is not a date")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise MetadataError(f"{value!r} is not a date") from None


def _moment_text(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _of_type(raw: dict, name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = raw.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise MetadataError(f"{name} is {value!r}, not a number")
    if not isinstance(value, kind):
        raise MetadataError(
            f"{name} is {type(value).__name__}, not {getattr(kind, '__name__', kind)}"
        )
    return value


@dataclass(frozen=True)
class DataCounts:
    """How much data a version learnt from (or a refresh was computed from)."""

    users: int = 0
    movies: int = 0
    ratings: int = 0
    # Ratings the model trained on; the rest were held out to measure it.
    training_ratings: int | None = None

    @classmethod
    def from_json(cls, raw: Any) -> DataCounts:
        if not isinstance(raw, dict):
            raise MetadataError("data is not an object")
        return cls(
            users=_of_type(raw, "users", int, 0),
            movies=_of_type(raw, "movies", int, 0),
            ratings=_of_type(raw, "ratings", int, 0),
            training_ratings=_of_type(raw, "training_ratings", int, None),
        )

    def as_json(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class VersionMetadata:
    """Everything ``metadata.json`` records about one published version."""

    version: str
    format: int
    created_at: datetime | None  # when it was published
    snapshot_at: datetime | None  # the moment of the data it learnt from
    data: DataCounts = field(default_factory=DataCounts)
    # protocol ("warm", "cold", "first_5", ...) -> method ("model", floors) -> figure
    metrics: dict[str, dict] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    chosen_on_validation: dict[str, Any] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)  # validation checks: the curve
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase
    peak_rss_mib_after: dict[str, Any] = field(default_factory=dict)
    trigger: str = ""
    training_run: int | None = None
    training_seconds: float | None = None
    best_step: int | None = None
    torch_threads: int | None = None
    quality_gate: str = ""
    checksums: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Any) -> VersionMetadata:
        if not isinstance(raw, dict):
            raise MetadataError("it is not an object")
        return cls(
            version=_of_type(raw, "version", str, ""),
            format=_of_type(raw, "format", int, 0),
            created_at=parse_moment(raw.get("created_at")),
            snapshot_at=parse_moment(raw.get("snapshot_at")),
            data=DataCounts.from_json(raw.get("data") or {}),
            metrics=_of_type(raw, "metrics", dict, {}),
            hyperparameters=_of_type(raw, "hyperparameters", dict, {}),
            chosen_on_validation=_of_type(raw, "chosen_on_validation", dict, {}),
            history=[h for h in _of_type(raw, "history", list, []) if isinstance(h, dict)],
            phases=_of_type(raw, "phases", dict, {}),
            peak_rss_mib_after=_of_type(raw, "peak_rss_mib_after", dict, {}),
            trigger=_of_type(raw, "trigger", str, ""),
            training_run=_of_type(raw, "training_run", int, None),
            training_seconds=_of_type(raw, "training_seconds", (int, float), None),
            best_step=_of_type(raw, "best_step", int, None),
            torch_threads=_of_type(raw, "torch_threads", int, None),
            quality_gate=_of_type(raw, "quality_gate", str, ""),
            checksums=_of_type(raw, "checksums", dict, {}),
        )

    def as_json(self) -> dict[str, Any]:
        raw = {f.name: getattr(self, f.name) for f in fields(self)}
        raw["created_at"] = _moment_text(self.created_at)
        raw["snapshot_at"] = _moment_text(self.snapshot_at)
        raw["data"] = self.data.as_json()
        return raw

    def figure(self, protocol: str, name: str, method: str = "model") -> float | None:
        return figure(self.metrics, protocol, name, method)


def figure(metrics: dict, protocol: str, name: str, method: str = "model") -> float | None:
    """One finite figure (``ndcg_at_10``, ``rmse``, ...) of a method on a
    protocol in a version's metrics, or None when there is none."""
    block = metrics.get(protocol) if isinstance(metrics, dict) else None
    methods = block.get(method) if isinstance(block, dict) else None
    value = methods.get(name) if isinstance(methods, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    return None


@dataclass(frozen=True)
class RefreshInfo:
    """What ``serving.json`` says about a version's latest serving arrays."""

    refresh: str  # the refresh's stamp (the version's own name for the first)
    file: str  # serving-<refresh>.npz
    format: int
    sha256: str
    snapshot_at: datetime | None  # the moment of the ratings the arrays were computed from
    catalogue: str  # the catalogue stamp they saw (gnn.bridge.snapshot.catalogue_stamp)
    data: DataCounts
    seconds: float | None  # how long computing them took
    published_at: datetime | None
    bytes: int | None = None

    @classmethod
    def from_json(cls, raw: Any) -> RefreshInfo:
        if not isinstance(raw, dict):
            raise MetadataError("it is not an object")
        return cls(
            refresh=str(_of_type(raw, "refresh", str, "")),
            file=_of_type(raw, "file", str, ""),
            format=_of_type(raw, "format", int, 0),
            sha256=_of_type(raw, "sha256", str, ""),
            snapshot_at=parse_moment(raw.get("snapshot_at")),
            catalogue=_of_type(raw, "catalogue", str, ""),
            data=DataCounts.from_json(raw),
            seconds=_of_type(raw, "seconds", (int, float), None),
            published_at=parse_moment(raw.get("published_at")),
            bytes=_of_type(raw, "bytes", int, None),
        )


@dataclass(frozen=True)
class RefreshSource:
    """What a set of serving arrays was computed from (the writer's side of
    RefreshInfo; the registry adds the file's name, checksum and stamp)."""

    snapshot_at: datetime | None
    catalogue: str
    data: DataCounts
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "snapshot_at": _moment_text(self.snapshot_at),
            "catalogue": self.catalogue,
            **self.data.as_json(),
            "seconds": round(self.seconds, 2),
        }
