"""The recommendations API."""

import time

import pytest
from django.utils import timezone

from accounts.models import User
from catalog.models import Movie
from gnn.bridge.serving import get_service

JSON = "application/json"


def fields(response):
    return {p["loc"][-1] for p in response.json()["detail"]}


def test_recommendations_cold_then_warm_with_the_model_version(client, member, auth, trained):
    cold = client.get(f"/api/recommendations/{member.pk}", {"n": 5}, **auth).json()
    assert cold["model_version"] == trained and cold["based_on_ratings"] == 0
    assert len(cold["items"]) == 5
    first = cold["items"][0]["movie"]["id"]
    client.post("/api/ratings", {"movie_id": first, "value": 5}, content_type=JSON, **auth)
    warm = client.get(f"/api/recommendations/{member.pk}", {"n": 5}, **auth).json()
    assert warm["based_on_ratings"] == 1
    assert first not in [item["movie"]["id"] for item in warm["items"]]
    # A reason, where one is strong enough to show, can only be that rating.
    reasons = [item["because"]["id"] for item in warm["items"] if item["because"]]
    assert set(reasons) <= {first}


@pytest.mark.parametrize("n", [0, 101, "ten"])
def test_recommendations_n_out_of_range_is_422(client, member, auth, trained, n):
    response = client.get(f"/api/recommendations/{member.pk}", {"n": n}, **auth)
    assert response.status_code == 422 and "n" in fields(response)


def test_recommendations_of_others_are_404_unless_staff(client, member, auth, staff_auth, trained):
    other = User.objects.create_user(username="bob", password="x", age=50, gender="M")
    assert client.get(f"/api/recommendations/{other.pk}", **auth).status_code == 404
    assert client.get(f"/api/recommendations/{other.pk}", **staff_auth).status_code == 200
    assert client.get(f"/api/recommendations/{member.pk}").status_code == 401
    assert client.post(f"/api/recommendations/{other.pk}/refresh", **auth).status_code == 404


def test_refresh_drops_the_cached_result(client, member, auth, trained):
    url = f"/api/recommendations/{member.pk}"
    client.get(url, **auth)
    assert client.get(url, **auth).json()["cached"] is True
    assert client.post(f"{url}/refresh", **auth).status_code == 200
    assert client.get(url, **auth).json()["cached"] is False


def test_a_repeated_answer_is_the_first_one_marked_cached(client, member, auth, trained):
    url = f"/api/recommendations/{member.pk}"
    first = client.get(url, {"n": 7}, **auth)
    again = client.get(url, {"n": 7}, **auth)
    assert again["Content-Type"].startswith("application/json")
    assert first.json()["cached"] is False and again.json()["cached"] is True
    assert {**first.json(), "cached": True} == again.json()
    # Another size is its own answer, cut from the same cached list.
    three = client.get(url, {"n": 3}, **auth).json()
    assert three["items"] == first.json()["items"][:3] and three["cached"] is True


def test_a_hidden_movie_leaves_the_repeated_answer(
    client, member, auth, trained_committed, instant_checks
):
    url = f"/api/recommendations/{member.pk}"
    first = client.get(url, **auth).json()
    hidden = first["items"][0]["movie"]["id"]
    Movie.objects.filter(pk=hidden).update(is_visible=False, updated_at=timezone.now())
    time.sleep(0.05)
    client.get(url, **auth)  # the service notices the catalogue change
    get_service().wait_for_reload()
    after = client.get(url, **auth).json()
    assert hidden not in [item["movie"]["id"] for item in after["items"]]
    assert len(after["items"]) == len(first["items"])
