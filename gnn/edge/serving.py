"""The engine of one process, loaded once and swapped when the model changes.

One engine per process, loaded on first use (so after a fork, never at
import or in AppConfig.ready; gunicorn's post_worker_init makes that first
use happen before the worker takes a request) and never per request.

A cheap check, at most every ``MODEL_CHECK_INTERVAL`` seconds, notices when
`models/current` points at another version, when the version's serving
arrays were refreshed (its serving.json names another refresh), or when
curators changed the catalogue; a background thread then builds the new
engine completely and swaps the reference under a lock. Requests in flight keep the engine they
started with; a version that fails to load is logged and the old engine stays.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from django.conf import settings

from gnn.edge import registry
from gnn.edge.state import process_state

if TYPE_CHECKING:
    from gnn.edge.engine import Engine

log = logging.getLogger("gnn.inference")


class RecommendationService:
    """Holds the engine of one process and swaps it when the model changes."""

    # A version that failed to load is tried again after this long (the
    # failure may have been the database, not the files).
    RETRY_FAILED_SECONDS = 60.0

    def __init__(self, models_dir, check_interval: float):
        self.models_dir = models_dir
        self.check_interval = check_interval
        self._engine: Engine | None = None
        self._loaded = False
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._loader: threading.Thread | None = None
        # (version, refresh, job, when) of the last failure
        self._failed: tuple[str, str, str, float] | None = None

    def engine(self) -> Engine | None:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    # First use in this process: load synchronously, once.
                    version = registry.current_version(self.models_dir)
                    self._engine = self._build(version) if version else None
                    self._loaded = True
                    self._next_check = time.monotonic() + self.check_interval
        elif time.monotonic() >= self._next_check:
            self._maybe_reload()
        return self._engine

    def _maybe_reload(self) -> None:
        with self._lock:
            busy = self._loader is not None and self._loader.is_alive()
            if busy or time.monotonic() < self._next_check:
                return
            self._next_check = time.monotonic() + self.check_interval
        wanted = registry.current_version(self.models_dir)
        engine = self._engine
        if wanted is None:
            return  # `current` removed by hand: keep serving what we have
        info = registry.serving_info(self.models_dir, wanted) or {}
        refresh = str(info.get("refresh") or "")
        job = "load"
        if engine is not None and wanted == engine.version and refresh == engine.refresh:
            from gnn.edge.snapshot import catalogue_stamp

            if catalogue_stamp() == engine.catalogue_stamp:
                return
            job = "catalogue"
            log.info("catalogue changed; reloading the catalogue served with %s", wanted)
        attempt = (wanted, refresh, job)
        if (
            self._failed
            and self._failed[:3] == attempt
            and time.monotonic() < self._failed[3] + self.RETRY_FAILED_SECONDS
        ):
            return  # it failed a moment ago: try again later, not every second
        with self._lock:
            if self._loader is not None and self._loader.is_alive():
                return
            self._loader = threading.Thread(
                target=self._reload, args=attempt, name="gnn-model-loader", daemon=True
            )
            self._loader.start()

    def _reload(self, version: str, refresh: str, job: str) -> None:
        from django.db import connection

        try:
            if job == "catalogue":
                engine = self._with_catalogue(version, refresh)
            else:
                engine = self._build(version, refresh)
        finally:
            connection.close()  # the loader thread's own connection
        if engine is not None:
            with self._lock:
                self._engine = engine  # requests in flight keep the old one
            log.info("now serving model version %s, refresh %s", version, engine.refresh)

    def _with_catalogue(self, version: str, refresh: str) -> Engine | None:
        engine = self._engine
        if engine is None:
            return None
        try:
            return engine.with_catalogue()
        except Exception:
            self._failed = (version, refresh, "catalogue", time.monotonic())
            log.exception("the catalogue could not be reloaded; keeping the one in service")
            return None

    def _build(self, version: str, refresh: str = "") -> Engine | None:
        from gnn.edge.engine import build_engine

        try:
            engine = build_engine(self.models_dir, version)
        except Exception:
            self._failed = (version, refresh, "load", time.monotonic())
            log.exception("model version %s failed to load; keeping the one in service", version)
            return None
        self._failed = None
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
