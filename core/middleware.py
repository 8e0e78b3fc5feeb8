"""Requests the site refuses before any view: a query string with NUL bytes
(400: PostgreSQL cannot even compare such a string, so every search and
filter would fail deep inside), and a database busy for longer than a
request may wait (503, retry soon).

SQLite lets one writer in at a time; behind a long transaction a write gives
up after SQLITE_BUSY_TIMEOUT with "database is locked" (PostgreSQL's
equivalent is a lock timeout). That is a temporary condition, not a server
fault: the answer says so and when to try again, and nothing was written.
"""

from __future__ import annotations

import logging

from django.db import OperationalError
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render

log = logging.getLogger("core.database")

RETRY_AFTER_SECONDS = 5
BUSY_MARKERS = ("database is locked", "lock timeout", "canceling statement due to lock timeout")


def is_busy(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and any(
        marker in str(error).lower() for marker in BUSY_MARKERS
    )


class DatabaseBusyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_busy(exception):
            return None
        log.warning("database busy: %s %s answered 503", request.method, request.path)
        message = "The site is busy saving other changes. Nothing was saved; try again in a moment."
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": message}, status=503)
        else:
            template = "503.html#message" if getattr(request, "htmx", False) else "503.html"
            response = render(request, template, {"message": message}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


class NulBytesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any("\x00" in key or "\x00" in value for key, value in _pairs(request.GET)):
            message = "The query string contains a NUL character."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def _pairs(query):
    for key, values in query.lists():
        for value in values:
            yield key, value
