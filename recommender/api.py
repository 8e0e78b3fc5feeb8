"""The JSON API under /api/, with its OpenAPI document at /api/openapi.json and
browsable docs at /api/docs. Each app contributes a router; this module adds
the error handling they share and the health check."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import connection
from django.http import Http404
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError

from accounts.api import router as users_router
from catalog.api import router as movies_router
from core.api import ApiError, privileged
from core.cache import cache_state
from core.middleware import RETRY_AFTER_SECONDS, unavailable_message
from core.ratelimit import RateLimited
from gnn.api import router as recommendations_router
from ratings.api import router as ratings_router
from ratings.services import MemberGone

log = logging.getLogger("recommender.api")

api = NinjaAPI(
    title="Reel API",
    version="1",
    description=(
        "Everything the website does, for other programs. Create a member with POST "
        "/api/users (the answer carries a token) or get a token for an existing one with "
        "POST /api/tokens, then send `Authorization: Bearer <token>`. A member reads and "
        "writes only their own data (others' is 404); staff may read anyone's. Errors are "
        'JSON: `{"detail": "..."}`, or for invalid input (422) `{"detail": '
        '[{"loc": [...], "msg": "...", "type": "..."}]}`.'
    ),
    urls_namespace="api",
)
api.add_router("", users_router)
api.add_router("", ratings_router)
api.add_router("", movies_router)
api.add_router("", recommendations_router)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return api.create_response(request, exc.payload(), status=exc.status)


@api.exception_handler(RateLimited)
def _rate_limited(request, exc: RateLimited):
    response = api.create_response(request, {"detail": exc.message}, status=429)
    response["Retry-After"] = str(exc.wait)
    return response


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    # Only what the documented schema promises (pydantic adds input/ctx/url).
    problems = [
        {
            "loc": [str(part) if not isinstance(part, int) else part for part in e.get("loc", [])],
            "msg": str(e.get("msg", "invalid")),
            "type": str(e.get("type", "value_error")),
        }
        for e in exc.errors
    ]
    return api.create_response(request, {"detail": problems}, status=422)


@api.exception_handler(AuthenticationError)
def _unauthorised(request, exc):
    return api.create_response(
        request, {"detail": "Authentication required: send a Bearer token."}, status=401
    )


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, {"detail": "Not Found"}, status=404)


@api.exception_handler(MemberGone)
def _member_gone(request, exc: MemberGone):
    """Deleted while the write was on its way: nothing of it was kept."""
    return api.create_response(request, {"detail": exc.message}, status=401)


@api.exception_handler(RequestDataTooBig)
def _too_large(request, exc):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    detail = f"The request body is too large (at most {limit:,} bytes)."
    return api.create_response(request, {"detail": detail}, status=413)


@api.exception_handler(SuspiciousOperation)
def _unreadable(request, exc):
    """Too many fields or files, and the like: the request cannot be read."""
    detail = "Bad request: the request could not be read (too many fields, or malformed)."
    return api.create_response(request, {"detail": detail}, status=400)


@api.exception_handler(Exception)
def _server_error(request, exc: Exception):
    """Whatever else goes wrong answers JSON too; the details go to the log only."""
    message = unavailable_message(exc)
    if message is not None:
        log.warning("database unavailable (%s): %s %s answered 503", exc, request.method,
                    request.path)  # fmt: skip
        response = api.create_response(request, {"detail": message}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return api.create_response(request, {"detail": "Internal server error."}, status=500)


class Check(Schema):
    ok: bool
    detail: str


class Health(Schema):
    status: str = Field(description="ok, degraded (serving without a part) or unavailable")
    model_version: str | None
    # The parts, for staff and the metrics allow-list (METRICS_ALLOWED_IPS):
    # an anonymous caller learns no database vendor, no cache kind.
    database: Check | None = None
    model: Check | None = None
    broker: Check | None = None
    cache: Check | None = None


_broker_checked: tuple[float, Check] | None = None


def _check_broker() -> Check:
    """Whether the broker answers, remembered for a few seconds: probes are frequent."""
    global _broker_checked
    now = time.monotonic()
    if _broker_checked and now - _broker_checked[0] < 5:
        return _broker_checked[1]
    from recommender.celery import app as celery_app

    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=1)
        check = Check(ok=True, detail="reachable")
    except Exception:
        log.warning("health: the broker is unreachable", exc_info=True)
        check = Check(ok=False, detail="unreachable: training waits until it is back")
    _broker_checked = (now, check)
    return check


@api.get(
    "/health", response={200: Health, 503: Health}, auth=None, tags=["system"], exclude_none=True
)
def health(request):
    """200 while the site can serve (database reachable), 503 when it cannot. A missing
    model, broker or cache degrades the service (popularity; retraining later;
    everything computed afresh) but it serves. Each part's state is shown to
    staff and to the addresses of METRICS_ALLOWED_IPS."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = Check(ok=True, detail=connection.vendor)
    except Exception:
        # Exception text names hosts and database users: the log only.
        log.error("health: the database is unreachable", exc_info=True)
        database = Check(ok=False, detail="unreachable")
    version = None
    if database.ok:
        from gnn.selectors import served_model

        served = served_model()
        version = served.version if served else None
    model = Check(
        ok=version is not None,
        detail=f"serving {version}" if version else "no model: recommending by popularity",
    )
    broker = _check_broker()
    cache_ok, cache_detail = cache_state()
    cache = Check(ok=cache_ok, detail=cache_detail)
    if not database.ok:
        status = "unavailable"
    elif model.ok and broker.ok and cache.ok:
        status = "ok"
    else:
        status = "degraded"
    body = Health(status=status, model_version=version)
    if privileged(request):
        body = Health(
            status=status, model_version=version, database=database, model=model,
            broker=broker, cache=cache,
        )  # fmt: skip
    return Status(200 if database.ok else 503, body)
