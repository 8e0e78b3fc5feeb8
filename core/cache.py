"""A Redis cache that is never the reason a page fails or a write is lost.

The cache only ever holds what can be recomputed (cached lists, panel HTML,
rate-limit counters), so when Redis is down every call answers as a miss:
reads return the default, writes do nothing, counters report None (rate
limits then fail open, with a warning). After a failure a circuit breaker
skips Redis for ``CACHE_BREAKER_SECONDS`` so that a page is not slowed by a
socket timeout per call; the first call after that tries again.

Keys carry what they were computed from (the served version, the member's
taste version), so an entry that missed its invalidation while Redis was
down is never read back once it is up.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

log = logging.getLogger("core.cache")

_FAILURES = (OSError, TimeoutError)
try:  # redis-py's own errors are not OSErrors
    import redis

    _FAILURES = (*_FAILURES, redis.RedisError)
except ImportError:  # pragma: no cover - redis-py is a dependency
    pass


class CircuitBreaker:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._open_until = 0.0
        self._lock = threading.Lock()
        self.last_error = ""

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self, error: BaseException) -> None:
        with self._lock:
            first = not self.is_open
            self._open_until = time.monotonic() + self.seconds
            self.last_error = type(error).__name__
        if first:
            log.warning(
                "cache unavailable (%s: %s); serving without it for %.0f s",
                type(error).__name__, error, self.seconds,
            )  # fmt: skip

    def close(self) -> None:
        self._open_until = 0.0


def _guarded(default=None):
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if self.breaker.is_open:
                return default() if callable(default) else default
            try:
                return method(self, *args, **kwargs)
            except _FAILURES as error:
                self.breaker.trip(error)
                return default() if callable(default) else default

        return wrapper

    return decorate


class _ReusedClients(RedisCacheClient):
    """Django's client builds a redis.Redis (with its table of ~170 response
    callbacks) for every cache call: a third of a cached API answer's time
    (benchmarks/api_overhead.py with CACHE_URL=redis://...). A redis.Redis is
    thread-safe over its pool, so one per pool is kept instead."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        options = dict(params.get("OPTIONS", {}))
        seconds = float(options.pop("breaker_seconds", 5))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = _ReusedClients
        self.breaker = CircuitBreaker(seconds)

    def get(self, key, default=None, version=None):
        if self.breaker.is_open:
            return default
        try:
            return super().get(key, default, version)
        except _FAILURES as error:
            self.breaker.trip(error)
            return default

    add = _guarded(False)(RedisCache.add)
    set = _guarded(None)(RedisCache.set)
    touch = _guarded(False)(RedisCache.touch)
    delete = _guarded(False)(RedisCache.delete)
    get_many = _guarded(dict)(RedisCache.get_many)
    has_key = _guarded(False)(RedisCache.has_key)
    incr = _guarded(None)(RedisCache.incr)
    set_many = _guarded(list)(RedisCache.set_many)
    delete_many = _guarded(None)(RedisCache.delete_many)
    clear = _guarded(False)(RedisCache.clear)

    def ping(self) -> bool:
        """Whether Redis answers now (the breaker is not consulted, only updated)."""
        try:
            self._cache.get_client(write=False).ping()
        except _FAILURES as error:
            self.breaker.trip(error)
            return False
        self.breaker.close()
        return True


def cache_state() -> tuple[bool, str]:
    """(ok, detail) of the default cache, for /api/health."""
    backend = caches["default"]
    if not isinstance(backend, ResilientRedisCache):
        return True, "in-process"
    if backend.ping():
        return True, "redis"
    return False, "unreachable: pages are served without it"
