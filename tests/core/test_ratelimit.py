import pytest
from django.urls import reverse

from catalog.models import Movie
from ratings.models import Rating


@pytest.fixture
def frozen_clock(monkeypatch):
    now = {"t": 1_000_000.0}
    monkeypatch.setattr("core.ratelimit.time.time", lambda: now["t"])
    return now


def test_log_in_attempts_are_limited_with_a_retry_hint_and_recover(
    client, member, settings, frozen_clock
):
    settings.RATE_LIMIT_LOGIN = "3/60"
    url = reverse("accounts:login")
    for _ in range(3):
        assert client.post(url, {"username": "alice", "password": "wrong"}).status_code == 200
    refused = client.post(url, {"username": "alice", "password": "correct horse battery"})
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many log-in attempts" in refused.text

    frozen_clock["t"] += 61
    again = client.post(url, {"username": "alice", "password": "correct horse battery"})
    assert again.status_code == 302


def test_rating_writes_are_limited_per_member(client, member, seeded, settings, frozen_clock):
    settings.RATE_LIMIT_RATINGS = "2/60"
    client.force_login(member)
    movies = list(Movie.objects.order_by("pk")[:3])
    answers = [
        client.post(reverse("ratings:rate", args=[m.pk]), {"value": "3"}, HTTP_HX_REQUEST="true")
        for m in movies
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "Too many rating changes" in answers[2].text
    assert Rating.objects.filter(user=member).count() == 2


def test_api_rating_writes_and_sign_ups_are_limited_as_json(
    client, member, seeded, settings, frozen_clock
):
    from accounts.services import api_token_create

    settings.RATE_LIMIT_RATINGS = "1/60"
    settings.RATE_LIMIT_SIGNUP = "1/60"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=member)}"}
    movie = Movie.objects.first()
    body = {"movie_id": movie.pk, "value": 4}
    assert (
        client.post("/api/ratings", body, content_type="application/json", **auth).status_code
        == 201
    )
    limited = client.post("/api/ratings", body, content_type="application/json", **auth)
    assert limited.status_code == 429 and "Retry-After" in limited
    assert limited.json()["detail"].startswith("Too many rating changes")

    person = {"username": "a1", "password": "a long enough passphrase", "age": 30, "gender": "F",
              "occupation": "writer"}  # fmt: skip
    assert client.post("/api/users", person, content_type="application/json").status_code == 201
    second = client.post(
        "/api/users", {**person, "username": "a2"}, content_type="application/json"
    )
    assert second.status_code == 429
