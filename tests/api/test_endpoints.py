import pytest

from accounts.models import User
from catalog.models import Movie
from ratings.models import Rating
from ratings.services import rating_set

JSON = "application/json"


def problems(response):
    return {(tuple(p["loc"]), p["msg"]) for p in response.json()["detail"]}


def fields(response):
    return {p["loc"][-1] for p in response.json()["detail"]}


# --- Users --------------------------------------------------------------------


def test_create_user_returns_the_user_and_a_working_token(client, seeded):
    response = client.post(
        "/api/users",
        {
            "username": "api-person",
            "password": "a long enough passphrase",
            "age": 44,
            "gender": "M",
            "occupation": "lawyer",
            "zip_code": "02139",
        },
        content_type=JSON,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["username"] == "api-person" and body["user"]["occupation"] == "lawyer"
    assert "password" not in body["user"]
    me = client.get(
        f"/api/users/{body['user']['id']}", HTTP_AUTHORIZATION=f"Bearer {body['token']}"
    )
    assert me.status_code == 200 and me.json()["age"] == 44


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"age": 0}, "age"),
        ({"age": "old"}, "age"),
        ({"gender": "X"}, "gender"),
        ({"occupation": "astronaut"}, "occupation"),
        ({"password": "123"}, "password"),
        ({"username": "movielens-1"}, "username"),
        ({"username": "x" * 151}, "username"),
        ({"zip_code": "x" * 11}, "zip_code"),
        ({"username": "nul\x00byte"}, "username"),
    ],
)
def test_create_user_rejects_bad_input_naming_the_field(client, db, change, field):
    payload = {
        "username": "api-person",
        "password": "a long enough passphrase",
        "age": 30,
        "gender": "F",
        "occupation": "writer",
        **change,
    }
    response = client.post("/api/users", payload, content_type=JSON)
    assert response.status_code == 422
    assert field in fields(response)
    assert not User.objects.exists()


def test_malformed_json_is_a_400_with_a_json_body(client, db):
    response = client.post("/api/users", "{not json", content_type=JSON)
    assert response.status_code == 400
    assert response.json() == {"detail": "Cannot parse request body"}


def test_tokens_for_existing_members(client, member):
    good = client.post(
        "/api/tokens", {"username": "alice", "password": "correct horse battery"}, content_type=JSON
    )
    bad = client.post("/api/tokens", {"username": "alice", "password": "nope"}, content_type=JSON)
    assert good.status_code == 201 and good.json()["token"].startswith("reel_")
    assert bad.status_code == 401


def test_reading_a_user_needs_authentication(client, member):
    assert client.get(f"/api/users/{member.pk}").status_code == 401
    bogus = client.get(f"/api/users/{member.pk}", HTTP_AUTHORIZATION="Bearer reel_nonsense")
    assert bogus.status_code == 401


def test_other_peoples_profiles_are_404_and_staff_may_read_them(client, member, auth, staff_auth):
    other = User.objects.create_user(username="bob", password="x", age=50)
    assert client.get(f"/api/users/{other.pk}", **auth).status_code == 404
    assert client.get("/api/users/999999", **auth).status_code == 404
    assert client.get(f"/api/users/{other.pk}", **staff_auth).json()["username"] == "bob"


def test_a_users_ratings_are_paginated_newest_first(client, member, auth, seeded):
    movies = list(Movie.objects.order_by("pk")[:25])
    for movie in movies:
        rating_set(user=member, movie=movie, value=3)
    first = client.get(f"/api/users/{member.pk}/ratings", {"page_size": 10}, **auth).json()
    assert (first["count"], first["pages"], len(first["results"])) == (25, 3, 10)
    assert first["results"][0]["movie_id"] == movies[-1].pk
    assert (
        client.get(f"/api/users/{member.pk}/ratings", {"page_size": 500}, **auth).status_code == 422
    )


# --- Ratings ------------------------------------------------------------------


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
    assert refused.status_code in (401, 403)
    assert strict.get(f"/api/users/{member.pk}").status_code == 200


def test_rating_stats(client, seeded):
    body = client.get("/api/ratings/stats").json()
    assert body["count"] == 736
    assert sum(body["distribution"].values()) == 736
    assert {g["genre"] for g in body["genres"]} >= {"Drama", "Horror"}
    assert 1 <= body["mean"] <= 5


# --- Movies -------------------------------------------------------------------


def test_movies_filter_sort_and_paginate(client, seeded):
    body = client.get("/api/movies", {"genre": "horror", "sort": "title", "page_size": 5}).json()
    titles = [m["title"] for m in body["results"]]
    assert titles == sorted(titles) and all("Horror" in m["genres"] for m in body["results"])
    assert body["count"] == Movie.objects.filter(genres__slug="horror").count()
    ranged = client.get("/api/movies", {"year_min": 1960, "year_max": 1969}).json()
    assert all(1960 <= m["year"] <= 1969 for m in ranged["results"])


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
    assert found["results"] and all("wild" in m["title"].lower() for m in found["results"])
    assert client.get("/api/movies/search").status_code == 422
    assert client.get("/api/movies/search", {"q": "   "}).status_code == 422


# --- Recommendations and system ------------------------------------------------


def test_recommendations_cold_then_warm_with_the_model_version(client, member, auth, trained):
    cold = client.get(f"/api/recommendations/{member.pk}", {"n": 5}, **auth).json()
    assert cold["model_version"] == trained and cold["based_on_ratings"] == 0
    assert len(cold["items"]) == 5
    first = cold["items"][0]["movie"]["id"]
    client.post("/api/ratings", {"movie_id": first, "value": 5}, content_type=JSON, **auth)
    warm = client.get(f"/api/recommendations/{member.pk}", {"n": 5}, **auth).json()
    assert warm["based_on_ratings"] == 1
    assert first not in [item["movie"]["id"] for item in warm["items"]]
    assert any(item["because"] and item["because"]["id"] == first for item in warm["items"])


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


def test_model_info_and_health(client, trained):
    info = client.get("/api/model/info").json()
    assert info["serving"] and info["version"] == trained
    assert "ndcg_at_10" in info["metrics"]["warm"]["model"]
    health = client.get("/api/health")
    assert health.status_code == 200
    assert health.json()["database"]["ok"] and health.json()["model_version"] == trained


def test_model_info_without_a_model(client, db):
    assert client.get("/api/model/info").json() == {
        "serving": False, "version": None, "created_at": None, "trigger": None, "data": {},
        "metrics": {}, "hyperparameters": {}, "training_seconds": None, "fallback": "popularity",
    }  # fmt: skip


def test_health_is_503_when_the_database_is_unreachable(client, db, monkeypatch):
    class Unreachable:
        vendor = "postgresql"

        def cursor(self):
            raise RuntimeError("connection refused")

    monkeypatch.setattr("recommender.api.connection", Unreachable())
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_docs_and_openapi_are_served(client, db):
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Reel API"
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "cdn" not in docs.text.lower()


def test_cors_is_off_by_default_and_configurable(client, db, settings):
    origin = {"HTTP_ORIGIN": "https://partner.example"}
    assert "access-control-allow-origin" not in client.get("/api/health", **origin).headers
    settings.CORS_ALLOWED_ORIGINS = ["https://partner.example"]
    allowed = client.get("/api/health", **origin)
    assert allowed.headers["access-control-allow-origin"] == "https://partner.example"
