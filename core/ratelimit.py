"""Fixed-window rate limits on the cache: log-in, sign-up and rating writes.

Each limit is a named :class:`RateLimit` (``LOGIN``, ``SIGNUP``, ``RATINGS``)
whose rate, "N/S", comes from a setting: at most N attempts per S seconds per
key (a user, or an IP address for visitors). Over the limit, the answer is 429 with Retry-After.
With CACHE_URL pointing at Redis the count is shared by all web processes;
with the per-process default cache each process counts on its own. When the
cache is down the limits fail open (with a warning): a visitor is never
refused because a counter cannot be read.

A visitor's address is the peer's, or, when the peer is one of
TRUSTED_PROXIES, the nearest address in X-Forwarded-For that is not a
trusted proxy: behind a reverse proxy the limits stay per visitor instead of
becoming site-wide, and a visitor cannot pick their own address by sending
the header directly.

Failed log-ins are also counted per username *and address*
(``LOGIN_FAILURES``, failures only): past the limit, that account's log-in
from that address asks to wait until the window ends. Counting per address
is what keeps a guesser from locking anyone else out: five wrong passwords
for someone's username from one address never stop the member logging in
from theirs. What bounds guessing from many addresses is the per-address
``LOGIN`` limit on every attempt, the password validators and the slow
password hash; a per-username count across addresses would hand any
stranger a way to keep a member out, one window after another.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.shortcuts import render

from core.env import parse_rate

log = logging.getLogger("core.ratelimit")


@dataclass(frozen=True)
class RateLimit:
    name: str  # part of the cache key
    setting: str  # the setting that holds the rate, "N/S"
    what: str  # for the message: "Too many <what>."
    per_user: bool  # keyed by the signed-in member, else always by IP address

    @property
    def rate(self) -> str:
        return getattr(settings, self.setting)


LOGIN = RateLimit("login", "RATE_LIMIT_LOGIN", "log-in attempts", per_user=False)
SIGNUP = RateLimit("signup", "RATE_LIMIT_SIGNUP", "sign-ups from your address", per_user=False)
RATINGS = RateLimit("ratings", "RATE_LIMIT_RATINGS", "rating changes", per_user=True)
# A member's own password checks (changing the password, deleting the
# account): per member, so nobody else behind the same address uses them up.
PASSWORD_CHECKS = RateLimit(
    "password-checks", "RATE_LIMIT_LOGIN", "password attempts", per_user=True
)
LOGIN_FAILURES = RateLimit(
    "login-failures", "RATE_LIMIT_LOGIN_FAILURES", "failed log-ins for this account",
    per_user=False,
)  # fmt: skip


def _networks(entries) -> list:
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


@functools.cache
def _trusted(entries: tuple[str, ...]) -> list:
    return _networks(entries)


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _trusted(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request) -> str:
    """The visitor's address (see the module's docstring)."""
    peer = request.META.get("REMOTE_ADDR", "") or "unknown"
    if not settings.TRUSTED_PROXIES or not _is_trusted(peer):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain: trust nothing beyond the proxy
        if not _is_trusted(hop):
            return hop
    return peer


def _window(rate: str):
    limit = parse_rate(rate)
    if limit is None:
        return None
    count, window = limit
    now = time.time()
    bucket = int(now // window)
    return count, window, now, bucket


def _wait(window: int, now: float, bucket: int) -> int:
    return max(1, math.ceil((bucket + 1) * window - now))


def hit(name: str, key: str, rate: str) -> int:
    """Count an attempt; 0 if allowed, else the seconds to wait."""
    parts = _window(rate)
    if parts is None:
        return 0
    count, window, now, bucket = parts
    cache_key = f"ratelimit:{name}:{key}:{bucket}"
    cache.add(cache_key, 0, window + 1)
    try:
        used = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, window + 1)
        used = 1
    if used is None:  # the cache is down: fail open rather than refuse everyone
        log.warning("rate limit %s not enforced: the cache is unavailable", name)
        return 0
    return 0 if used <= count else _wait(window, now, bucket)


def over(limit: RateLimit, key: str) -> int:
    """Without counting: 0 if ``key`` is within ``limit``, else the seconds to wait."""
    parts = _window(limit.rate)
    if parts is None:
        return 0
    count, window, now, bucket = parts
    used = cache.get(f"ratelimit:{limit.name}:{key}:{bucket}", 0) or 0
    return 0 if used < count else _wait(window, now, bucket)


def failures_key(username: str, request) -> str:
    """Failed log-ins are counted per (username, visitor's address)."""
    address = client_ip(request) if request is not None else "unknown"
    return f"username:{(username or '').strip().lower()[:150]}:ip:{address}"


def refuse_if_failing(username: str, request) -> None:
    """Raise RateLimited while this username is past its failed log-ins from
    this request's address."""
    wait = over(LOGIN_FAILURES, failures_key(username, request))
    if wait:
        raise RateLimited(wait, LOGIN_FAILURES.what)


def count_failure(username: str, request) -> None:
    hit(LOGIN_FAILURES.name, failures_key(username, request), LOGIN_FAILURES.rate)


def _duration(seconds: int) -> str:
    """A wait as a person says it: seconds, then minutes, then hours."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size:
            count = math.ceil(seconds / size)
            return f"{count} {unit}s"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


class RateLimited(Exception):
    def __init__(self, wait: int, what: str):
        self.wait = wait
        self.message = f"Too many {what}. Try again in {_duration(wait)}."
        super().__init__(self.message)


def enforce(request, limit: RateLimit) -> None:
    """Count this attempt against ``limit``; raise RateLimited when over it.

    Keyed by the signed-in user (``limit.per_user``), else by IP address.
    """
    user = getattr(request, "user", None)
    if limit.per_user and user is not None and user.is_authenticated:
        key = f"user:{user.pk}"
    else:
        key = f"ip:{client_ip(request)}"
    wait = hit(limit.name, key, limit.rate)
    if wait:
        raise RateLimited(wait, limit.what)


def too_many(request, error: RateLimited):
    message = error.message
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        # An htmx swap gets the message alone; a page gets the whole page.
        template = "429.html#message" if getattr(request, "htmx", False) else "429.html"
        response = render(request, template, {"message": message}, status=429)
    response["Retry-After"] = str(error.wait)
    return response


def limited(limit: RateLimit):
    """A website view whose writes (POST) count against ``limit``."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST":
                try:
                    enforce(request, limit)
                except RateLimited as error:
                    return too_many(request, error)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
