"""Requests the site refuses before any view: a query string with NUL bytes
(400: PostgreSQL cannot even compare such a string, so every search and
filter would fail deep inside), and a database busy for longer than a
request may wait or out of reach for a moment, restarting or failing over
(503, retry soon: never a 500, and the member is told nothing was saved).

SQLite lets one writer in at a time; behind a long transaction a write gives
up after SQLITE_BUSY_TIMEOUT with "database is locked" (PostgreSQL's
equivalent is a lock timeout). That is a temporary condition, not a server
fault: the answer says so and when to try again, and nothing was written.
"""

from __future__ import annotations

import functools
import logging

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render

log = logging.getLogger("core.database")

RETRY_AFTER_SECONDS = 5
BUSY_MARKERS = ("database is locked", "lock timeout", "canceling statement due to lock timeout")
# The database cannot be reached for a moment (restarting, failing over).
UNREACHABLE_MARKERS = (
    "connection refused", "the database system is shutting down",
    "the database system is starting up", "server closed the connection",
    "terminating connection", "could not connect", "connection failed", "connection is closed",
    "connection already closed",
)  # fmt: skip
BUSY_MESSAGE = "The site is busy saving other changes. Nothing was saved; try again in a moment."
UNREACHABLE_MESSAGE = (
    "The site cannot reach its database for a moment. Nothing was saved; try again in a few "
    "seconds."
)


def is_busy(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and any(
        marker in str(error).lower() for marker in BUSY_MARKERS
    )


def is_unreachable(error: BaseException) -> bool:
    return isinstance(error, OperationalError | InterfaceError) and any(
        marker in str(error).lower() for marker in UNREACHABLE_MARKERS
    )


def unavailable_message(error: BaseException) -> str | None:
    """What to tell a member when the database refused for a moment (503), or
    None when the error is not one of those."""
    if is_busy(error):
        return BUSY_MESSAGE
    if is_unreachable(error):
        return UNREACHABLE_MESSAGE
    return None


class DatabaseBusyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        message = unavailable_message(exception)
        if message is None:
            return None
        return unavailable_response(request, exception, message)


def unavailable_response(request, exception: BaseException, message: str):
    """503 with Retry-After and what to do: JSON under /api/, the site's page
    (or its message alone, for htmx) elsewhere. Also the answer of the 500
    handler when the failure was the database's (recommender.urls.handler500):
    a middleware reading the session fails outside any view."""
    log.warning(
        "database unavailable (%s): %s %s answered 503", exception, request.method, request.path
    )
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=503)
    else:
        from django.contrib.auth.models import AnonymousUser

        # The member's session lives in the database that did not answer:
        # the page is shown as to a visitor rather than not at all.
        if not _loaded(getattr(request, "session", None)):
            request.user = AnonymousUser()
        template = "503.html#message" if getattr(request, "htmx", False) else "503.html"
        response = render(request, template, {"message": message}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _loaded(session) -> bool:
    return session is not None and hasattr(session, "_session_cache")


class ApiErrorsAsJsonMiddleware:
    """Every error under /api/ answers JSON, as the API's documentation
    promises: Django's and ninja's own refusals (405 for a method a path does
    not take, 400 for a query string with too many fields, 413 for a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE) are HTML or plain text otherwise. Headers
    such as Allow and Retry-After are kept."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path.startswith("/api/")
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        detail = _API_MESSAGES.get(response.status_code, response.reason_phrase)
        if response.status_code == 405 and response.has_header("Allow"):
            detail = f"{detail} Allowed: {response['Allow']}."
        answer = JsonResponse({"detail": detail}, status=response.status_code)
        for header in ("Allow", "Retry-After", "X-Request-ID"):
            if response.has_header(header):
                answer[header] = response[header]
        return answer


_API_MESSAGES = {
    400: "Bad request: the request could not be read (too many fields, or malformed).",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
}


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


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware with the site-wide policy built once. django-csp
    builds it for every response (about a tenth of a cached API answer's
    server time, benchmarks/api_overhead.py), though it only differs when a
    view used the nonce or set a policy of its own: those still go through
    django-csp as they are."""

    _OWN_POLICY = (
        "_csp_config", "_csp_update", "_csp_replace",
        "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro",
    )  # fmt: skip

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, name) for name in self._OWN_POLICY
        ):
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in (404, 500):
            return response  # Django's debug pages have inline styles
        for header, setting, exempt, report_only in (
            (HEADER, "CONTENT_SECURITY_POLICY", "_csp_exempt", False),
            (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro", True),
        ):
            policy = getattr(settings, setting, None) or {}
            built = _site_policy(id(policy), report_only)
            excluded = tuple(policy.get("EXCLUDE_URL_PREFIXES") or ())
            if (
                built
                and header not in response
                and not getattr(response, exempt, False)
                and not request.path_info.startswith(excluded)
            ):
                response[header] = built
        # As django-csp does: a nonce asked for after this would not be in the header.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response


@functools.lru_cache(maxsize=8)
def _site_policy(_policy_id: int, report_only: bool) -> str:
    # Keyed by the setting's identity, so a changed setting builds anew.
    return build_policy(report_only=report_only)
