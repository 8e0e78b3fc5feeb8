"""Fixed-window rate limits on the cache: log-in, sign-up and rating writes.

Each limit is a named :class:`RateLimit` (``LOGIN``, ``SIGNUP``, ``RATINGS``)
whose rate, "N/S", comes from a setting: at most N attempts per S seconds per
key (a user, or an IP address for visitors). Over the limit, the answer is 429 with Retry-After.
With CACHE_URL pointing at Redis the count is shared by all web processes;
with the per-process default cache each process counts on its own.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.shortcuts import render

from core.env import parse_rate


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


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


def hit(name: str, key: str, rate: str) -> int:
    """Count an attempt; 0 if allowed, else the seconds to wait."""
    limit = parse_rate(rate)
    if limit is None:
        return 0
    count, window = limit
    now = time.time()
    bucket = int(now // window)
    cache_key = f"ratelimit:{name}:{key}:{bucket}"
    cache.add(cache_key, 0, window + 1)
    try:
        used = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, window + 1)
        used = 1
    if used <= count:
        return 0
    return max(1, math.ceil((bucket + 1) * window - now))


class RateLimited(Exception):
    def __init__(self, wait: int, what: str):
        self.wait = wait
        self.message = f"Too many {what}. Try again in {wait} second{'s' if wait != 1 else ''}."
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
