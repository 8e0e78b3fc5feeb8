"""Recommendations on a shelf: a genre, a decade, both."""

import pytest
from django.db.models import Count
from django.urls import reverse

from catalog.models import Genre, Movie

HTMX = {"HTTP_HX_REQUEST": "true"}


def rarest_genre(min_movies: int) -> Genre:
    """The genre with the fewest visible movies, at least ``min_movies`` of them."""
    return (
        Genre.objects.annotate(n=Count("movies"))
        .filter(n__gte=min_movies)
        .order_by("n", "position")
        .first()
    )


def test_a_rare_genre_still_fills_the_list(client, member, auth, trained):
    genre = rarest_genre(12)
    movies_of_genre = Movie.objects.visible().filter(genres=genre).count()
    answer = client.get(
        f"/api/recommendations/{member.pk}", {"n": 10, "genre": genre.slug}, **auth
    ).json()
    assert len(answer["items"]) == 10 <= movies_of_genre
    assert all(genre.name in item["movie"]["genres"] for item in answer["items"])
    # Not only the top of the unfiltered list: that holds fewer of them.
    everything = client.get(f"/api/recommendations/{member.pk}", {"n": 10}, **auth).json()
    assert sum(genre.name in i["movie"]["genres"] for i in everything["items"]) < 10


def test_a_decade_and_a_genre_together(client, member, auth, trained):
    movie = Movie.objects.visible().exclude(year=None).order_by("-rating_count").first()
    decade = movie.year // 10 * 10
    genre = movie.genres.first()
    answer = client.get(
        f"/api/recommendations/{member.pk}",
        {"n": 100, "genre": genre.slug, "decade": decade},
        **auth,
    ).json()
    expected = (
        Movie.objects.visible().filter(genres=genre, year__gte=decade, year__lt=decade + 10).count()
    )
    assert len(answer["items"]) == min(expected, 100) > 0
    assert all(decade <= i["movie"]["year"] < decade + 10 for i in answer["items"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"genre": "no-such-genre"}, "genre"),
        ({"genre": "x" * 41}, "genre"),
        ({"decade": 1995}, "decade"),
        ({"decade": 3000}, "decade"),
        ({"decade": "nineties"}, "decade"),
    ],
)
def test_bad_filters_are_422_and_name_the_field(client, member, auth, trained, query, field):
    response = client.get(f"/api/recommendations/{member.pk}", query, **auth)
    assert response.status_code == 422
    assert field in {p["loc"][-1] for p in response.json()["detail"]}


def test_the_panel_filters_and_explains_a_bad_filter(client, member, trained):
    client.force_login(member)
    genre = rarest_genre(12)
    panel = client.get(reverse("recommendations"), {"genre": genre.slug}, **HTMX)
    items = panel.context["recommendations"].items
    assert len(items) == 10
    assert all(genre in item.movie.genres.all() for item in items)
    assert f'value="{genre.slug}" selected' in panel.text
    assert f"genre={genre.slug}" in panel.text  # it reloads itself on the same shelf
    bad = client.get(reverse("recommendations"), {"genre": "<script>"}, **HTMX)
    assert bad.status_code == 422 and "There is no such genre." in bad.text
    assert len(bad.context["recommendations"].items) == 10
    page = client.get(reverse("home"), {"decade": "1234"})
    assert page.status_code == 400 and "A decade is its first year" in page.text


def test_without_a_model_the_popular_list_is_filtered_too(client, member, auth, seeded):
    genre = rarest_genre(12)
    answer = client.get(
        f"/api/recommendations/{member.pk}", {"n": 10, "genre": genre.slug}, **auth
    ).json()
    assert answer["source"] == "popularity" and len(answer["items"]) == 10
    assert all(genre.name in item["movie"]["genres"] for item in answer["items"])
