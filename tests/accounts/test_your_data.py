"""Members' data in their hands: download it, delete the account."""

import json

from django.urls import reverse

from accounts.models import ApiToken, User
from accounts.services import api_token_create
from catalog.models import Movie
from ratings.models import Dismissal, NotSeen, Rating, WatchlistItem
from ratings.services import dismissal_add, not_seen_add, rating_set, watchlist_add

PASSWORD = "a long enough passphrase"


def fill(member):
    movies = list(Movie.objects.order_by("pk")[:6])
    rating_set(user=member, movie=movies[0], value=5)
    rating_set(user=member, movie=movies[1], value=2)
    dismissal_add(user=member, movie=movies[2])
    watchlist_add(user=member, movie=movies[3])
    not_seen_add(user=member, movie=movies[4])
    api_token_create(user=member)
    return movies


def test_the_download_holds_everything_the_site_keeps(client, member, seeded):
    movies = fill(member)
    client.force_login(member)
    response = client.get(reverse("accounts:data_download"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="reel-{member.username}-'
    )
    data = json.loads(response.content)
    assert data["profile"]["username"] == member.username
    assert data["profile"]["age"] == member.age and data["profile"]["zip_code"] == member.zip_code
    assert [(r["movie_id"], r["value"]) for r in data["ratings"]] == [
        (movies[0].pk, 5),
        (movies[1].pk, 2),
    ]
    assert [d["movie_id"] for d in data["dismissals"]] == [movies[2].pk]
    assert [w["movie_id"] for w in data["watchlist"]] == [movies[3].pk]
    assert [n["movie_id"] for n in data["not_seen"]] == [movies[4].pk]
    assert len(data["api_tokens"]) == 1 and set(data["api_tokens"][0]) == {
        "prefix",
        "created_at",
        "last_used_at",
    }


def test_the_download_is_only_ever_ones_own(client, member, django_user_model, seeded):
    fill(member)
    other = django_user_model.objects.create_user(username="other", password=PASSWORD)
    client.force_login(other)
    data = json.loads(client.get(reverse("accounts:data_download")).content)
    assert data["profile"]["username"] == "other" and data["ratings"] == []
    client.logout()
    assert client.get(reverse("accounts:data_download")).status_code == 302  # log in first
    assert client.post(reverse("accounts:data_download")).status_code in (302, 405)


def test_deleting_asks_for_the_password_and_keeps_movie_statistics_right(
    client, django_user_model, seeded
):
    member = django_user_model.objects.create_user(
        username="leaving", password=PASSWORD, age=40, gender="M", occupation="writer"
    )
    movies = fill(member)
    rated = Movie.objects.get(pk=movies[0].pk)
    before = (rated.rating_count, rated.rating_sum, rated.liked_count)
    client.force_login(member)
    assert client.get(reverse("accounts:delete")).status_code == 200

    wrong = client.post(reverse("accounts:delete"), {"password": "not it"})
    assert wrong.status_code == 400 and "That is not your password" in wrong.text
    empty = client.post(reverse("accounts:delete"), {})
    assert empty.status_code == 400
    assert User.objects.filter(pk=member.pk).exists()

    done = client.post(reverse("accounts:delete"), {"password": PASSWORD}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("home")
    assert "are deleted" in done.text and not done.context["user"].is_authenticated
    assert not User.objects.filter(username="leaving").exists()
    for model in (Rating, Dismissal, WatchlistItem, NotSeen, ApiToken):
        assert not model.objects.filter(user_id=member.pk).exists()
    rated.refresh_from_db()
    assert (rated.rating_count, rated.rating_sum, rated.liked_count) == (
        before[0] - 1,
        before[1] - 5,
        before[2] - 1,
    )
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_the_profile_shows_the_members_taste(client, member, seeded):
    client.force_login(member)
    assert (
        "Rate a few movies and your taste shows here"
        in client.get(reverse("accounts:profile")).text
    )
    movies = list(Movie.objects.order_by("pk")[:8])
    values = [5, 5, 4, 4, 3, 2, 1, 5]
    for movie, value in zip(movies, values, strict=True):
        rating_set(user=member, movie=movie, value=value)
    taste = client.get(reverse("accounts:profile")).context["taste"]
    assert taste["total"] == 8
    assert [(v, n) for v, n, _ in taste["histogram"]] == [(5, 3), (4, 2), (3, 1), (2, 1), (1, 1)]
    liked = {}
    for movie, value in zip(movies, values, strict=True):
        for genre in movie.genres.all():
            liked[genre.name] = liked.get(genre.name, 0) + (value >= 4)
    favourites = taste["favourite_genres"]
    assert favourites and favourites[0]["liked"] == max(liked.values())
    assert all(liked[g["name"]] == g["liked"] > 0 for g in favourites)
    assert [g["liked"] for g in favourites] == sorted(
        (g["liked"] for g in favourites), reverse=True
    )
