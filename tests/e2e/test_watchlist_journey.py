"""The watchlist: want to watch, out of the recommendations, off when rated."""

import pytest
from django.urls import reverse

from catalog.models import Movie
from catalog.services import movie_hide
from gnn.selectors import ListQuery, recommendations_for
from ratings.models import WatchlistItem
from ratings.services import rating_set, watchlist_add

HTMX = {"HTTP_HX_REQUEST": "true"}


def on_list(member) -> list[int]:
    return list(
        WatchlistItem.objects.filter(user=member)
        .order_by("-created_at")
        .values_list("movie_id", flat=True)
    )


def test_a_movie_on_the_watchlist_leaves_the_recommendations(client, member, trained):
    client.force_login(member)
    first = recommendations_for(user=member).items[0].movie
    response = client.post(reverse("ratings:watch", args=[first.pk]), **HTMX)
    assert response.status_code == 200 and "On your watchlist" in response.text
    assert response.headers["HX-Trigger"].startswith('{"tasteChanged"')
    member.refresh_from_db()
    assert first.pk not in [
        i.movie.pk for i in recommendations_for(user=member, query=ListQuery(n=100)).items
    ]
    again = client.post(reverse("ratings:watch", args=[first.pk]), **HTMX)  # idempotent
    assert again.status_code == 200 and on_list(member) == [first.pk]
    off = client.post(reverse("ratings:unwatch", args=[first.pk]), **HTMX)
    assert "Want to watch" in off.text and on_list(member) == []
    member.refresh_from_db()
    assert first.pk in [
        i.movie.pk for i in recommendations_for(user=member, query=ListQuery(n=100)).items
    ]


def test_rating_a_movie_takes_it_off_the_watchlist(member, seeded):
    movies = list(Movie.objects.order_by("pk")[:2])
    for movie in movies:
        watchlist_add(user=member, movie=movie)
    rating_set(user=member, movie=movies[0], value=4)
    assert on_list(member) == [movies[1].pk]


def test_the_watchlist_page_is_newest_first_and_paginated(client, member, seeded):
    movies = list(Movie.objects.order_by("pk")[:25])
    for movie in movies:
        watchlist_add(user=member, movie=movie)
    client.force_login(member)
    first = client.get(reverse("ratings:watchlist"))
    shown = [item.movie.pk for item in first.context["page"]]
    assert shown == [m.pk for m in reversed(movies)][:20]
    assert "25 movies you want to watch" in first.text
    second = client.get(reverse("ratings:watchlist"), {"page": 2})
    assert [item.movie.pk for item in second.context["page"]] == [m.pk for m in movies[:5][::-1]]
    assert client.get(reverse("ratings:watchlist"), {"page": "x\u00b2"}).status_code == 200
    movie_hide(movie=movies[-1])  # hidden movies leave the page, not the database
    assert client.get(reverse("ratings:watchlist")).context["page"][0].movie.pk == movies[-2].pk


def test_bad_requests_change_nothing(client, member, django_user_model, seeded):
    movie = Movie.objects.first()
    assert client.post(reverse("ratings:watch", args=[movie.pk])).status_code == 302  # log in
    client.force_login(member)
    assert client.get(reverse("ratings:watch", args=[movie.pk])).status_code == 405
    assert client.post(reverse("ratings:watch", args=[99999999])).status_code == 404
    assert client.post(reverse("ratings:unwatch", args=[movie.pk])).status_code == 404
    other = django_user_model.objects.create_user(username="other", password="x" * 20)
    watchlist_add(user=other, movie=movie)
    assert client.post(reverse("ratings:unwatch", args=[movie.pk])).status_code == 404
    assert on_list(other) == [movie.pk] and on_list(member) == []
    movie_hide(movie=movie)
    assert client.post(reverse("ratings:watch", args=[movie.pk])).status_code == 404


def test_the_api_adds_lists_and_removes(client, member, auth, trained):
    first = client.get(f"/api/recommendations/{member.pk}", {"n": 5}, **auth).json()["items"][0]
    movie_id = first["movie"]["id"]
    added = client.put(f"/api/watchlist/{movie_id}", **auth)
    assert added.status_code == 201 and added.json()["movie_id"] == movie_id
    assert client.put(f"/api/watchlist/{movie_id}", **auth).status_code == 200
    listed = client.get(f"/api/users/{member.pk}/watchlist", **auth).json()
    assert listed["count"] == 1 and listed["items"][0]["movie_id"] == movie_id
    recs = client.get(f"/api/recommendations/{member.pk}", {"n": 100}, **auth).json()
    assert movie_id not in [item["movie"]["id"] for item in recs["items"]]
    assert client.delete(f"/api/watchlist/{movie_id}", **auth).status_code == 204
    assert client.delete(f"/api/watchlist/{movie_id}", **auth).status_code == 404


@pytest.mark.parametrize("path", ["/api/watchlist/abc", "/api/watchlist/0", "/api/watchlist/-3"])
def test_the_api_refuses_bad_ids(client, auth, seeded, path):
    assert client.put(path, **auth).status_code == 422
    assert not WatchlistItem.objects.exists()


def test_the_api_hides_other_members_watchlists(
    client, member, auth, staff_auth, django_user_model, seeded
):
    other = django_user_model.objects.create_user(username="other", password="x" * 20)
    watchlist_add(user=other, movie=Movie.objects.first())
    assert client.get(f"/api/users/{other.pk}/watchlist", **auth).status_code == 404
    assert client.get(f"/api/users/{other.pk}/watchlist", **staff_auth).json()["count"] == 1
    assert client.put("/api/watchlist/99999999", **auth).status_code == 404
    assert client.put("/api/watchlist/1").status_code == 401
