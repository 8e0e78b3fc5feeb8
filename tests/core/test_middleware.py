"""What the site answers before or around any view: the database out of reach
for a moment, errors under /api/ as JSON."""

import pytest
from django.db import OperationalError

REFUSED = (
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused'
)


@pytest.mark.parametrize(
    "message",
    [
        REFUSED,
        "connection failed: FATAL:  the database system is shutting down",
        "server closed the connection unexpectedly",
    ],
)
def test_a_database_out_of_reach_for_a_moment_is_503_and_says_nothing_was_saved(
    client, db, monkeypatch, message
):
    """Found by the fault soak: a PostgreSQL restart answered 500s."""

    def unreachable(**_kwargs):
        raise OperationalError(message)

    monkeypatch.setattr("catalog.api.movie_search", unreachable)
    monkeypatch.setattr("recommender.views.movies.movie_search", unreachable)
    api = client.get("/api/movies")
    assert api.status_code == 503 and api["Retry-After"] == "5"
    assert "Nothing was saved" in api.json()["detail"]
    page = client.get("/movies/?q=star")
    assert page.status_code == 503 and "Nothing was saved" in page.text
    assert page["Content-Type"].startswith("text/html")


def test_any_other_database_error_stays_a_server_error(client, db, monkeypatch):
    def broken(**_kwargs):
        raise OperationalError("no such table: catalog_movie")

    monkeypatch.setattr("catalog.api.movie_search", broken)
    answer = client.get("/api/movies")
    assert answer.status_code == 500 and answer.json() == {"detail": "Internal server error."}


def test_a_session_that_cannot_be_read_for_a_moment_is_503_not_500(client, member, monkeypatch):
    """Found by the fault soak's second run: with the database restarting,
    reading a member's session (in a middleware, outside any view) was a 500."""
    client.force_login(member)

    def unreachable(self, *args, **kwargs):
        raise OperationalError(REFUSED)

    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", unreachable)
    client.raise_request_exception = False
    for path in ("/movies/", "/recommendations/", "/api/users/me"):
        answer = client.get(path)
        assert answer.status_code == 503, path
        assert answer["Retry-After"] == "5"
        assert "Nothing was saved" in answer.text
