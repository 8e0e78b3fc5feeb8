"""Hostile query strings on every page: a clear answer or the default, never a 500.

Every URL pattern of the site (the admin's included) is requested with query
parameters that pages read, each set to values that broke pages before:
Unicode digits, 5,000-digit numbers, NUL bytes, negative and far-away pages.
As a signed-in member and as staff.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from catalog.models import Movie
from ratings.models import Rating
from ratings.services import rating_set

PARAMETERS = (
    "n", "page", "p", "q", "genre", "decade", "year", "year_min", "year_max", "sort", "o",
    "refresh", "next", "all", "e", "page_size", "exclude_rated", "value", "user", "movie",
    "status", "trigger", "is_visible__exact", "genres__id__exact", "_changelist_filters",
    "movie__id__exact", "value__exact", "created_at__year",
)  # fmt: skip
VALUES = (
    "²", "１０", "9" * 5000, "-1", "0", "-99999999999999999999", "nan", "abc\x00def",
    "' OR 1=1 --", "a" * 3000,
)  # fmt: skip
# Pages other than lists read no filters: a few parameters are enough there.
FEW = ("page", "n", "next", "_changelist_filters")
SKIPPED = {"logout", "metrics"}  # logout ends the session; metrics has its own tests


def _patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, route)
        elif isinstance(entry, URLPattern):
            yield route, entry.name


def _concrete(route: str, ids: dict) -> str | None:
    """A URL for a route, its parameters filled with objects that exist."""
    route = route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\", "")
    if any(c in route for c in "()[]?*+|"):
        return None  # a regular expression the test cannot fill

    def fill(match):
        name = match.group(2)
        if "rating" in name:
            return str(ids["rating"])
        if "user" in name:
            return str(ids["user"])
        if name in {"object_id", "pk", "id"}:
            return "1"
        if "token" in name:
            return "1"
        if match.group(1) in (None, "int") or name.endswith("_id"):
            return str(ids["movie"])
        return "x"

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


@pytest.fixture
def urls(member, seeded):
    movie = Movie.objects.order_by("pk").first()
    rating_set(user=member, movie=movie, value=4)
    ids = {
        "movie": movie.pk,
        "rating": Rating.objects.get(user=member, movie=movie).pk,
        "user": member.pk,
    }
    found = []
    for route, name in _patterns():
        if name in SKIPPED or route.startswith(("static", "media")):
            continue
        url = _concrete(route, ids)
        if url is not None:
            found.append(url)
    return sorted(set(found))


def _fuzz(client, urls):
    client.raise_request_exception = False  # collect every 500, not only the first
    failures = []
    for url in urls:
        listing = not url.startswith("/admin") or url.count("/") <= 4
        for parameter in PARAMETERS if listing else FEW:
            for value in VALUES:
                response = client.get(url, {parameter: value})
                if response.status_code >= 500:
                    failures.append((url, parameter, value[:20], response.status_code))
    return failures


def test_pages_survive_hostile_query_strings_as_a_member(client, member, urls):
    client.force_login(member)
    site = [u for u in urls if not u.startswith("/admin") and not u.startswith("/api")]
    assert len(site) > 10
    failures = _fuzz(client, site)
    assert not failures, "\n".join(map(repr, failures))


def test_pages_survive_hostile_query_strings_as_staff(client, staff, urls):
    client.force_login(staff)
    admin = [u for u in urls if u.startswith("/admin")]
    assert len(admin) > 20
    failures = _fuzz(client, admin)
    assert not failures, "\n".join(map(repr, failures))
