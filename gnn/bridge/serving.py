"""The engines of one process, each loaded once, swapped when the model changes.

A process holds one engine per served version (gnn.bridge.registry's
``served_versions``: the current one, and an experiment's other arm when
there is one), keyed by version, each loaded on first use (so after a fork,
never at import or in AppConfig.ready; gunicorn's post_worker_init makes the
current one's first use happen before the worker takes a request) and never
per request.

A cheap check, at most every ``MODEL_CHECK_INTERVAL`` seconds, notices when
the served versions change, when a version's serving arrays were refreshed
(its serving.json names another refresh), or when curators changed the
catalogue; a background thread then builds the new engines completely and
swaps them in under a lock. A version no longer served is dropped, so memory
does not grow with swaps. Requests in flight keep the engine they started
with; a version that fails to load is logged and the engine in service stays.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from gnn.bridge import registry
from gnn.bridge.state import process_state

if TYPE_CHECKING:
    from gnn.bridge.engine import Engine

log = logging.getLogger("gnn.inference")


@dataclass(frozen=True)
class _Job:
    version: str
    refresh: str
    kind: str  # "load" (arrays and catalogue) or "catalogue" (the catalogue only)


class RecommendationService:
    """Holds the engines of one process and swaps them when the model changes."""

    # A version that failed to load is tried again after this long (the
    # failure may have been the database, not the files).
    RETRY_FAILED_SECONDS = 60.0

    def __init__(
        self,
        models_dir,
        check_interval: float,
        served: Callable[[], tuple[str, ...]] | None = None,
    ):
        self.models_dir = models_dir
        self.check_interval = check_interval
        self._served = served or (lambda: registry.served_versions(models_dir))
        self._engines: dict[str, Engine] = {}
        self._current: str | None = None  # the served versions' first
        self._loaded = False
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._loader: threading.Thread | None = None
        self._failed: dict[_Job, float] = {}  # when each job last failed

    def engine(self, version: str | None = None) -> Engine | None:
        """The engine of ``version`` (default: the current one), or None when
        that version is not served (or nothing is)."""
        if not self._loaded:
            self._first_load()
        elif time.monotonic() >= self._next_check:
            self._maybe_reload()
        return self._engines.get(version or self._current or "")

    def engines(self) -> dict[str, Engine]:
        """Every engine held, by version (the current one first)."""
        self.engine()
        return dict(self._engines)

    def _first_load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            # First use in this process: load synchronously, once each.
            served = self._served()
            engines = {}
            for version in served:
                engine = self._build(_Job(version, "", "load"))
                if engine is not None:
                    engines[version] = engine
            self._engines = engines
            self._current = served[0] if served else None
            self._loaded = True
            self._next_check = time.monotonic() + self.check_interval

    def _maybe_reload(self) -> None:
        with self._lock:
            busy = self._loader is not None and self._loader.is_alive()
            if busy or time.monotonic() < self._next_check:
                return
            self._next_check = time.monotonic() + self.check_interval
        served = self._served()
        if not served:
            return  # `current` removed by hand: keep serving what we have
        jobs = [job for version in served if (job := self._job_for(version)) is not None]
        jobs = [job for job in jobs if not self._failed_recently(job)]
        # Until the new current version loads, the one in service serves.
        waiting = served[0] not in self._engines
        stale = set(self._engines) - set(served) - ({self._current} if waiting else set())
        if not jobs and not stale and (served[0] == self._current or waiting):
            return
        with self._lock:
            if self._loader is not None and self._loader.is_alive():
                return
            self._loader = threading.Thread(
                target=self._reload, args=(served, jobs), name="gnn-model-loader", daemon=True
            )
            self._loader.start()

    def _job_for(self, version: str) -> _Job | None:
        """What to do so that ``version``'s engine is up to date; None: nothing."""
        info = registry.serving_info(self.models_dir, version)
        refresh = info.refresh if info else ""
        engine = self._engines.get(version)
        if engine is None or refresh != engine.refresh:
            return _Job(version, refresh, "load")
        from gnn.bridge.snapshot import catalogue_stamp

        if catalogue_stamp() != engine.catalogue_stamp:
            log.info("catalogue changed; reloading the catalogue served with %s", version)
            return _Job(version, refresh, "catalogue")
        return None

    def _failed_recently(self, job: _Job) -> bool:
        failed = self._failed.get(job)
        return failed is not None and time.monotonic() < failed + self.RETRY_FAILED_SECONDS

    def _reload(self, served: tuple[str, ...], jobs: list[_Job]) -> None:
        from django.db import connection

        built = {}
        try:
            for job in jobs:
                engine = self._build(job)
                if engine is not None:
                    built[job.version] = engine
        finally:
            connection.close()  # the loader thread's own connection
        with self._lock:
            # Requests in flight keep the engines they hold.
            engines = {v: built.get(v) or self._engines.get(v) for v in served}
            engines = {v: e for v, e in engines.items() if e is not None}
            if served[0] in engines or self._current not in self._engines:
                self._current = served[0]
            else:  # the new current version failed to load: keep serving the old one
                engines[self._current] = self._engines[self._current]
            self._engines = engines
        for version, engine in built.items():
            log.info("now serving model version %s, refresh %s", version, engine.refresh)

    def _build(self, job: _Job) -> Engine | None:
        from gnn.bridge.engine import build_engine

        try:
            if job.kind == "catalogue":
                engine = self._engines[job.version].with_catalogue()
            else:
                engine = build_engine(self.models_dir, job.version)
        except Exception:
            self._failed[job] = time.monotonic()
            log.exception(
                "model version %s failed to load (%s); keeping the one in service",
                job.version, job.kind,
            )  # fmt: skip
            return None
        self._failed.pop(job, None)
        return engine

    def wait_for_reload(self, timeout: float = 60.0) -> None:
        """Block until a reload in progress has finished (tests, commands)."""
        loader = self._loader
        if loader is not None:
            loader.join(timeout)


_service_lock = threading.Lock()


def get_service() -> RecommendationService:
    service = process_state.service
    if service is None:
        with _service_lock:
            service = process_state.service
            if service is None:
                service = RecommendationService(settings.MODELS_DIR, settings.MODEL_CHECK_INTERVAL)
                process_state.service = service
    return service
