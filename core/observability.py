"""Request ids, structured logs and the access log.

Every log record carries ``request_id`` and ``user_id`` (a logging filter
reads them from context variables), so one request's lines, and those of the
Celery task it enqueued, can be found together. The id comes from the
client's ``X-Request-ID`` when it is sane, is generated otherwise, and is
returned in the response's ``X-Request-ID``.

Loggers, one per stream an operator follows: ``recommender.web`` (one line
per request), ``gnn.inference`` (serving, swaps) and ``gnn.training`` (runs).
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid

from django.utils.log import log_response

from core import metrics

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
user_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
access_log = logging.getLogger("recommender.web")


def current_request_id() -> str | None:
    return request_id_var.get()


class ContextFilter(logging.Filter):
    """Adds request_id and user_id to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.user_id = user_id_var.get()
        return True


class RequestContextMiddleware:
    """Request id in, request id out, one access-log line and a latency sample."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        request_token = request_id_var.set(request_id)
        user_token = user_id_var.set(None)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            # Known now: session users from the auth middleware, API token
            # users from the API's authentication.
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                user_id_var.set(user.pk)
            elapsed = time.perf_counter() - started
            view = _view_name(request)
            response["X-Request-ID"] = request_id
            if response.status_code >= 400:
                # Django logs 4xx/5xx answers after the middleware, where the
                # request id is gone; logged here, its record carries it (and
                # log_response marks the response so it is not logged twice).
                log_response(
                    "%s: %s", response.reason_phrase, request.path,
                    response=response, request=request,
                )  # fmt: skip
            metrics.observe_request(view, request.method, response.status_code, elapsed)
            access_log.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                response.status_code,
                elapsed * 1000,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "view": view,
                },
            )
            return response
        finally:
            request_id_var.reset(request_token)
            user_id_var.reset(user_token)


def _view_name(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.url_name or "unnamed"
