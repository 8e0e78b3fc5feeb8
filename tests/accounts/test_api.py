"""The users and tokens API."""

import pytest

from accounts.models import User

JSON = "application/json"


def fields(response):
    return {p["loc"][-1] for p in response.json()["detail"]}


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
