"""The movies API."""

import pytest

from catalog.models import Movie


def fields(response):
    return {p["loc"][-1] for p in response.json()["detail"]}


def test_movies_filter_sort_and_paginate(client, seeded):
    body = client.get("/api/movies", {"genre": "horror", "sort": "title", "page_size": 5}).json()
    titles = [m["title"] for m in body["items"]]
    assert titles == sorted(titles) and all("Horror" in m["genres"] for m in body["items"])
    assert body["count"] == Movie.objects.filter(genres__slug="horror").count()
    ranged = client.get("/api/movies", {"year_min": 1960, "year_max": 1969}).json()
    assert all(1960 <= m["year"] <= 1969 for m in ranged["items"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"genre": "nope"}, "genre"),
        ({"year_min": 1990, "year_max": 1980}, "year_max"),
        ({"year_min": "x"}, "year_min"),
        ({"sort": "random"}, "sort"),
        ({"page_size": 0}, "page_size"),
    ],
)
def test_bad_movie_filters_are_422(client, seeded, params, field):
    response = client.get("/api/movies", params)
    assert response.status_code == 422 and field in fields(response)


def test_movie_detail_and_search(client, seeded):
    movie = Movie.objects.order_by("-rating_count").first()
    body = client.get(f"/api/movies/{movie.pk}").json()
    assert body["rating_count"] == movie.rating_count
    assert body["rating_mean"] == pytest.approx(movie.rating_sum / movie.rating_count, abs=1e-4)
    assert client.get("/api/movies/999999").status_code == 404
    found = client.get("/api/movies/search", {"q": "WILD"}).json()
    assert found["items"] and all("wild" in m["title"].lower() for m in found["items"])
    assert client.get("/api/movies/search").status_code == 422
    assert client.get("/api/movies/search", {"q": "   "}).status_code == 422
