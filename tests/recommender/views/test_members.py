"""The member's own pages that gather several apps: the profile (demographics,
taste) and the data download."""

import json

from django.urls import reverse

from catalog.models import Movie
from ratings.services import rating_set
from tests.conftest import MEMBER_PASSWORD, fill_member


def test_the_download_holds_everything_the_site_keeps(client, member, seeded):
    movies = fill_member(member)
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
        "expired",
    }


def test_the_download_is_only_ever_ones_own(client, member, django_user_model, seeded):
    fill_member(member)
    other = django_user_model.objects.create_user(username="other", password=MEMBER_PASSWORD)
    client.force_login(other)
    data = json.loads(client.get(reverse("accounts:data_download")).content)
    assert data["profile"]["username"] == "other" and data["ratings"] == []
    client.logout()
    assert client.get(reverse("accounts:data_download")).status_code == 302  # log in first
    assert client.post(reverse("accounts:data_download")).status_code in (302, 405)


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


def test_profile_edits_demographics_and_changes_the_taste_version(client, member):
    client.force_login(member)
    before = member.taste_version
    response = client.post(
        reverse("accounts:profile"),
        {"age": "45", "gender": "O", "occupation": "librarian", "zip_code": "10001"},
        follow=True,
    )
    member.refresh_from_db()
    assert (member.age, member.gender, member.occupation) == (45, "O", "librarian")
    assert member.taste_version > before
    assert "Profile saved" in response.text


def test_profile_with_bad_input_changes_nothing(client, member):
    client.force_login(member)
    response = client.post(
        reverse("accounts:profile"), {"age": "500", "gender": "F", "occupation": "writer"}
    )
    member.refresh_from_db()
    assert member.age == 31
    assert "less than or equal to 120" in response.text


def test_profile_and_history_need_a_login(client, db):
    for name in ("accounts:profile", "accounts:history"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_the_download_is_named_after_any_username(client, seeded, django_user_model):
    """Finding 10: a username outside Latin-1 broke the Content-Disposition header."""
    member = django_user_model.objects.create_user(username="Zoë_東京", password=MEMBER_PASSWORD)
    client.force_login(member)
    response = client.get(reverse("accounts:data_download"))
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''reel-Zo%C3%AB_%E6%9D%B1%E4%BA%AC-")
    disposition.encode("latin-1")  # a valid header value
