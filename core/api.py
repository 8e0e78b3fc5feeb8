"""What every API module shares: input types that cannot reach the database in
a form it refuses, one error shape, pagination.

Errors are always JSON. Validation problems are 422 with the shape django-ninja
uses for its own: ``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}``,
so a client handles one format whatever found the problem.
"""

from __future__ import annotations

from typing import Annotated

from django.conf import settings
from django.core.paginator import Paginator
from ninja import Field, Schema
from pydantic import AfterValidator

from core.ratelimit import client_ip

# Ids are 64-bit in both databases; a larger number could only 500.
MAX_ID = 2**63 - 1
MAX_PAGE = 1_000_000


def _no_nul(value: str) -> str:
    # PostgreSQL refuses NUL in text; refuse it here with a clear message.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def Text(max_length: int, min_length: int = 0):
    return Annotated[
        str, Field(min_length=min_length, max_length=max_length), AfterValidator(_no_nul)
    ]


Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Message(Schema):
    detail: str


class FieldProblem(Schema):
    loc: list[str | int]
    msg: str
    type: str


class Problems(Schema):
    detail: list[FieldProblem]


# Responses every operation may give besides its success.
READ_ERRORS = {400: Message, 404: Message, 422: Problems}
AUTH_ERRORS = {401: Message, 403: Message, 404: Message, 400: Message, 422: Problems, 429: Message}


class ApiError(Exception):
    """Raised by API code; recommender.api turns it into a JSON response."""

    def __init__(self, status: int, message: str, problems: list[dict] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems

    @classmethod
    def invalid(cls, field: str, message: str, where: str = "body") -> ApiError:
        return cls(422, message, [{"loc": [where, field], "msg": message, "type": "value_error"}])

    def payload(self) -> dict:
        return {"detail": self.problems if self.problems is not None else self.message}


def form_problems(form, where: str = "body", rename: dict | None = None) -> ApiError:
    """A Django form's errors as one 422 (the API validates with the website's forms)."""
    rename = rename or {}
    problems = [
        {"loc": [where, rename.get(field, field)], "msg": str(message), "type": "value_error"}
        for field, messages in form.errors.items()
        for message in messages
    ]
    return ApiError(422, "invalid input", problems)


class PageMeta(Schema):
    """Every paginated list: these keys, and its rows under ``items``."""

    count: int
    page: int
    pages: int
    page_size: int


def paginate(items, page: int, page_size: int) -> tuple[list, dict]:
    """One page; a page past the last is empty (with the real ``pages``),
    never silently the last page again."""
    paginator = Paginator(items, page_size)
    meta = {
        "count": paginator.count,
        "page": page,
        "pages": paginator.num_pages,
        "page_size": page_size,
    }
    if page > paginator.num_pages:
        return [], meta
    return list(paginator.page(page).object_list), meta


def privileged(request) -> bool:
    """Staff (a session), or a monitor on METRICS_ALLOWED_IPS: who may see
    how the site is built (health's parts, the model's hyperparameters)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    return client_ip(request) in settings.METRICS_ALLOWED_IPS
