"""A database that is busy for longer than a request may wait: 503, retry soon.

SQLite lets one writer in at a time; behind a long transaction a write gives
up after SQLITE_BUSY_TIMEOUT with "database is locked" (PostgreSQL's
equivalent is a lock timeout). That is a temporary condition, not a server
fault: the answer says so and when to try again, and nothing was written.
"""

from __future__ import annotations

import logging

from django.db import OperationalError
from django.http import JsonResponse
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
