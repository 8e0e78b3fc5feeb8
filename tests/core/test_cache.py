"""Redis as the cache, down or hanging: pages serve, writes are kept, limits fail open."""

import socket
import threading
import time

import pytest
from django.core.cache import cache, caches
from django.urls import reverse

from catalog.models import Movie
from ratings.models import Rating

HTMX = {"HTTP_HX_REQUEST": "true"}


def _redis_cache(location, breaker_seconds=5.0):
    return {
        "default": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": location,
            "KEY_PREFIX": "tests",
            "OPTIONS": {
                "socket_connect_timeout": 1,
                "socket_timeout": 1,
                "breaker_seconds": breaker_seconds,
            },
        }
    }


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once it is closed


@pytest.fixture
def redis_down(settings):
    settings.CACHES = _redis_cache(f"redis://127.0.0.1:{_closed_port()}/1")
    yield
    caches["default"].breaker.close()


@pytest.fixture
def redis_silent(settings):
    """A server that accepts connections and never answers: every call would
    wait for the socket timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    settings.CACHES = _redis_cache(f"redis://127.0.0.1:{server.getsockname()[1]}/1")
    yield
    server.close()
    for connection in held:
        connection.close()


def test_with_the_cache_down_a_rating_is_saved_and_pages_serve(redis_down, client, member, seeded):
    movie = Movie.objects.get(movielens_id=1)
    client.force_login(member)

    rated = client.post(reverse("ratings:rate", args=[movie.pk]), {"value": "4"}, **HTMX)
    home = client.get(reverse("home"))
    panel = client.get(reverse("recommendations"), **HTMX)

    assert rated.status_code == 200
    assert Rating.objects.get(user=member, movie=movie).value == 4
    assert home.status_code == 200
    assert panel.status_code == 200


def test_with_the_cache_down_log_in_and_sign_up_work(redis_down, client, member):
    login = client.post(
        reverse("accounts:login"), {"username": "alice", "password": "correct horse battery"}
    )
    client.logout()
    signup = client.post(
        reverse("accounts:signup"),
        {
            "username": "bob", "password1": "a long enough pass 42",
            "password2": "a long enough pass 42", "age": "40", "gender": "M",
            "occupation": "engineer", "zip_code": "",
        },
    )  # fmt: skip

    assert login.status_code == 302
    assert signup.status_code == 302
    from accounts.models import User

    assert User.objects.filter(username="bob").exists()


def test_health_reports_the_cache_as_degraded_while_the_site_serves(
    redis_down, client, db, settings
):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"  # all an anonymous caller learns
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]  # a monitor sees which part
    body = client.get("/api/health").json()
    assert body["cache"]["ok"] is False and body["status"] == "degraded"


def test_after_one_timeout_the_breaker_skips_the_cache(redis_silent, db):
    started = time.monotonic()
    assert cache.get("anything", "missing") == "missing"
    first = time.monotonic() - started

    started = time.monotonic()
    for n in range(20):
        cache.set(f"key{n}", n)
        assert cache.get(f"key{n}") is None
    rest = time.monotonic() - started

    assert first >= 0.9  # the socket timeout, once
    assert rest < 0.5  # not 40 more of them


def test_the_cache_is_used_again_once_redis_answers(settings, db):
    settings.CACHES = _redis_cache("redis://127.0.0.1:6379/1", breaker_seconds=0.2)
    backend = caches["default"]
    backend.breaker.trip(ConnectionError("simulated earlier failure"))
    assert backend.get("back") is None  # skipped while open

    time.sleep(0.3)
    backend.set("back", "yes", 30)
    assert backend.get("back") == "yes"
    backend.delete("back")
