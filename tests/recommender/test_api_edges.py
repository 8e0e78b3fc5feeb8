"""What a real API client meets at the edges: authentication and CSRF, the
field names the first clients were written against, one list shape, errors
as JSON."""

import pytest
from django.test import Client

from catalog.models import Movie
from ratings.models import Rating

JSON = "application/json"


@pytest.fixture
def strict():
    """A client that meets CSRF checks as a real browser or program does."""
    return Client(enforce_csrf_checks=True)


def test_users_me_is_the_caller(client, member, auth):
    me = client.get("/api/users/me", **auth)
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["username"]) == (member.pk, "alice")
    assert client.get("/api/users/me").status_code == 401


@pytest.mark.parametrize("header", [None, "Bearer rk_not-a-real-token", "Bearer", "Basic abc"])
def test_a_write_without_a_valid_token_is_401_json_not_a_csrf_error(strict, seeded, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    movie = Movie.objects.first()
    before = Rating.objects.count()
    response = strict.post(
        "/api/ratings", {"movie_id": movie.pk, "value": 4}, content_type=JSON, **extra
    )
    assert response.status_code == 401
    assert response["Content-Type"].startswith(JSON)
    assert "token" in response.json()["detail"].lower()
    assert Rating.objects.count() == before


def test_a_session_write_still_needs_the_csrf_token(strict, member, seeded):
    strict.force_login(member)
    movie = Movie.objects.first()
    refused = strict.post("/api/ratings", {"movie_id": movie.pk, "value": 4}, content_type=JSON)
    assert refused.status_code == 403
    assert not Rating.objects.filter(user=member).exists()

    strict.get("/")  # the page a browser would have loaded sets the CSRF cookie
    token = strict.cookies["csrftoken"].value
    accepted = strict.post(
        "/api/ratings", {"movie_id": movie.pk, "value": 4}, content_type=JSON,
        HTTP_X_CSRFTOKEN=token,
    )  # fmt: skip
    assert accepted.status_code == 201


def test_a_token_write_needs_no_csrf_token(strict, member, auth, seeded):
    movie = Movie.objects.first()
    response = strict.post(
        "/api/ratings", {"movie_id": movie.pk, "value": 4}, content_type=JSON, **auth
    )
    assert response.status_code == 201


def test_the_original_designs_field_names_are_accepted(client, member, auth, seeded):
    movie = Movie.objects.first()
    created = client.post(
        "/api/ratings", {"user_id": member.pk, "movie_id": movie.pk, "rating": 4},
        content_type=JSON, **auth,
    )  # fmt: skip
    assert created.status_code == 201
    body = created.json()
    assert (body["rating"], body["value"], body["user_id"]) == (4, 4, member.pk)

    changed = client.put(f"/api/ratings/{body['id']}", {"rating": 2}, content_type=JSON, **auth)
    assert changed.status_code == 200 and changed.json()["rating"] == 2
    assert Rating.objects.get(pk=body["id"]).value == 2


def test_conflicting_or_missing_stars_are_422_and_change_nothing(client, member, auth, seeded):
    movie = Movie.objects.first()
    for payload in ({"movie_id": movie.pk}, {"movie_id": movie.pk, "value": 4, "rating": 2}):
        response = client.post("/api/ratings", payload, content_type=JSON, **auth)
        assert response.status_code == 422, payload
    assert not Rating.objects.filter(user=member).exists()


def test_rating_for_another_member_is_404(client, member, auth, seeded, django_user_model):
    other = django_user_model.objects.create_user(username="bob", password="x" * 12)
    movie = Movie.objects.first()
    response = client.post(
        "/api/ratings", {"user_id": other.pk, "movie_id": movie.pk, "rating": 4},
        content_type=JSON, **auth,
    )  # fmt: skip
    assert response.status_code == 404
    assert not Rating.objects.filter(user__in=[member, other]).exists()


def test_every_paginated_list_has_one_shape_and_a_page_past_the_end_is_empty(
    client, member, auth, seeded
):
    keys = {"count", "page", "pages", "page_size", "items"}
    for url in ("/api/movies", "/api/movies/search?q=the", f"/api/users/{member.pk}/ratings"):
        first = client.get(url, **auth).json()
        assert set(first) == keys, url
        sep = "&" if "?" in url else "?"
        past = client.get(f"{url}{sep}page={first['pages'] + 1}", **auth)
        assert past.status_code == 200
        assert past.json()["items"] == [] and past.json()["page"] == first["pages"] + 1
    assert set(client.get(f"/api/recommendations/{member.pk}", **auth).json()) >= {"items"}


def test_an_unexpected_error_under_api_answers_json(client, member, auth, seeded, monkeypatch):
    def broken(**_):
        raise RuntimeError("a bug with secret internals")

    monkeypatch.setattr("gnn.api.rendered_recommendations", broken)
    response = client.get(f"/api/recommendations/{member.pk}", **auth)
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert "secret" not in response.text


@pytest.mark.parametrize("path", ["/api/users", "/api/ratings", "/api/tokens"])
def test_a_body_over_the_upload_limit_is_413_json_not_a_server_error(client, auth, path):
    """Finding 5: a 3 MB body was a 500 with a traceback, raising the error rate."""
    body = b'{"username": "' + b"x" * 3_000_000 + b'"}'
    response = client.post(path, body, content_type=JSON, **auth)
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert "too large" in response.json()["detail"]


def test_a_method_a_path_does_not_take_is_405_json_naming_the_allowed_ones(client, auth):
    response = client.patch("/api/watchlist/1", **auth)
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")
    assert "DELETE" in response.json()["detail"] and "PUT" in response["Allow"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_query_string_with_too_many_fields_is_400_json(client, db, method):
    query = "&".join(f"a{i}=1" for i in range(1100))
    path = "/api/movies" if method == "get" else "/api/tokens"
    response = getattr(client, method)(f"{path}?{query}", content_type=JSON)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "could not be read" in response.json()["detail"]


def test_pages_keep_their_own_error_pages(client, db):
    query = "&".join(f"a{i}=1" for i in range(1100))
    response = client.get(f"/movies/?{query}")
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
