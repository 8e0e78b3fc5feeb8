"""The ratings API."""

import pytest

from catalog.models import Movie
from ratings.models import Rating
from ratings.services import rating_set

JSON = "application/json"


def fields(response):
    return {p["loc"][-1] for p in response.json()["detail"]}


def test_a_users_ratings_are_paginated_newest_first(client, member, auth, seeded):
    movies = list(Movie.objects.order_by("pk")[:25])
    for movie in movies:
        rating_set(user=member, movie=movie, value=3)
    first = client.get(f"/api/users/{member.pk}/ratings", {"page_size": 10}, **auth).json()
    assert (first["count"], first["pages"], len(first["items"])) == (25, 3, 10)
    assert first["items"][0]["movie_id"] == movies[-1].pk
    assert (
        client.get(f"/api/users/{member.pk}/ratings", {"page_size": 500}, **auth).status_code == 422
    )


def test_rate_change_and_delete(client, member, auth, seeded):
    movie = Movie.objects.first()
    created = client.post(
        "/api/ratings", {"movie_id": movie.pk, "value": 4}, content_type=JSON, **auth
    )
    again = client.post(
        "/api/ratings", {"movie_id": movie.pk, "value": 5}, content_type=JSON, **auth
    )
    assert (created.status_code, again.status_code) == (201, 200)
    rating_id = created.json()["id"]
    assert again.json()["id"] == rating_id
    assert again.json()["created_at"] == created.json()["created_at"]
    assert again.json()["updated_at"] > created.json()["updated_at"]
    assert again.json()["movie_title"] == movie.title

    changed = client.put(f"/api/ratings/{rating_id}", {"value": 2}, content_type=JSON, **auth)
    assert changed.status_code == 200 and changed.json()["value"] == 2
    assert Rating.objects.get(pk=rating_id).value == 2

    assert client.delete(f"/api/ratings/{rating_id}", **auth).status_code == 204
    assert not Rating.objects.filter(pk=rating_id).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"value": 0}, "value"),
        ({"value": 6}, "value"),
        ({"value": 3.5}, "value"),
        ({"value": "4"}, "value"),
        ({"value": True}, "value"),
        ({"movie_id": 999999}, "movie_id"),
        ({"movie_id": 2**70}, "movie_id"),
        ({"movie_id": "abc"}, "movie_id"),
    ],
)
def test_bad_ratings_are_refused_and_nothing_is_stored(
    client, member, auth, seeded, payload, field
):
    movie = Movie.objects.first()
    body = {"movie_id": movie.pk, "value": 4, **payload}
    response = client.post("/api/ratings", body, content_type=JSON, **auth)
    assert response.status_code == 422
    assert field in fields(response)
    assert not Rating.objects.filter(user=member).exists()


def test_rating_a_hidden_movie_is_refused(client, member, auth, seeded):
    movie = Movie.objects.first()
    Movie.objects.filter(pk=movie.pk).update(is_visible=False)
    response = client.post(
        "/api/ratings", {"movie_id": movie.pk, "value": 4}, content_type=JSON, **auth
    )
    assert response.status_code == 422 and "movie_id" in fields(response)


def test_unauthenticated_writes_are_401(client, seeded):
    movie = Movie.objects.first()
    before = Rating.objects.count()
    assert (
        client.post(
            "/api/ratings", {"movie_id": movie.pk, "value": 4}, content_type=JSON
        ).status_code
        == 401
    )
    some = Rating.objects.first()
    assert client.put(f"/api/ratings/{some.pk}", {"value": 1}, content_type=JSON).status_code == 401
    assert client.delete(f"/api/ratings/{some.pk}").status_code == 401
    assert Rating.objects.count() == before


def test_other_peoples_ratings_are_404_and_unchanged(client, member, auth, seeded):
    theirs = Rating.objects.exclude(user=member).first()
    assert (
        client.put(f"/api/ratings/{theirs.pk}", {"value": 1}, content_type=JSON, **auth).status_code
        == 404
    )
    assert client.delete(f"/api/ratings/{theirs.pk}", **auth).status_code == 404
    assert Rating.objects.get(pk=theirs.pk).value == theirs.value


def test_the_website_session_works_for_the_api_with_csrf(member, seeded):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    movie = Movie.objects.first()
    refused = strict.post("/api/ratings", {"movie_id": movie.pk, "value": 4}, content_type=JSON)
    # Session authentication is tried first and fails its CSRF check.
    assert refused.status_code == 403
    assert strict.get(f"/api/users/{member.pk}").status_code == 200


def test_rating_stats(client, seeded):
    body = client.get("/api/ratings/stats").json()
    assert body["count"] == 736
    assert sum(body["distribution"].values()) == 736
    assert {g["genre"] for g in body["genres"]} >= {"Drama", "Horror"}
    assert 1 <= body["mean"] <= 5
