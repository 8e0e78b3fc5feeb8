import pytest
from django.urls import reverse

from catalog.models import Movie
from ratings.models import Rating


@pytest.fixture
def frozen_clock(monkeypatch):
    now = {"t": 1_000_000.0}
    monkeypatch.setattr("core.ratelimit.time.time", lambda: now["t"])
    return now


def test_log_in_attempts_are_limited_with_a_retry_hint_and_recover(
    client, member, settings, frozen_clock
):
    settings.RATE_LIMIT_LOGIN = "3/60"
    url = reverse("accounts:login")
    for _ in range(3):
        assert client.post(url, {"username": "alice", "password": "wrong"}).status_code == 200
    refused = client.post(url, {"username": "alice", "password": "correct horse battery"})
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many log-in attempts" in refused.text

    frozen_clock["t"] += 61
    again = client.post(url, {"username": "alice", "password": "correct horse battery"})
    assert again.status_code == 302


def test_rating_writes_are_limited_per_member(client, member, seeded, settings, frozen_clock):
    settings.RATE_LIMIT_RATINGS = "2/60"
    client.force_login(member)
    movies = list(Movie.objects.order_by("pk")[:3])
    answers = [
        client.post(reverse("ratings:rate", args=[m.pk]), {"value": "3"}, HTTP_HX_REQUEST="true")
        for m in movies
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "Too many rating changes" in answers[2].text
    assert Rating.objects.filter(user=member).count() == 2


def test_api_rating_writes_and_sign_ups_are_limited_as_json(
    client, member, seeded, settings, frozen_clock
):
    from accounts.services import api_token_create

    settings.RATE_LIMIT_RATINGS = "1/60"
    settings.RATE_LIMIT_SIGNUP = "1/60"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=member)}"}
    movie = Movie.objects.first()
    body = {"movie_id": movie.pk, "value": 4}
    assert (
        client.post("/api/ratings", body, content_type="application/json", **auth).status_code
        == 201
    )
    limited = client.post("/api/ratings", body, content_type="application/json", **auth)
    assert limited.status_code == 429 and "Retry-After" in limited
    assert limited.json()["detail"].startswith("Too many rating changes")

    person = {"username": "a1", "password": "a long enough passphrase", "age": 30, "gender": "F",
              "occupation": "writer"}  # fmt: skip
    assert client.post("/api/users", person, content_type="application/json").status_code == 201
    second = client.post(
        "/api/users", {**person, "username": "a2"}, content_type="application/json"
    )
    assert second.status_code == 429


def _login(client, password, forwarded_for=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {}
    return client.post(
        reverse("accounts:login"), {"username": "alice", "password": password}, **extra
    )


def test_behind_a_trusted_proxy_each_visitor_has_their_own_log_in_limit(
    client, member, settings, frozen_clock
):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's peer address
    settings.RATE_LIMIT_LOGIN = "2/60"
    settings.RATE_LIMIT_LOGIN_FAILURES = "0"
    for _ in range(2):
        assert _login(client, "wrong", "198.51.100.7").status_code == 200
    assert _login(client, "wrong", "198.51.100.7").status_code == 429

    # Another visitor through the same proxy is not refused ...
    assert _login(client, "wrong", "203.0.113.9, 127.0.0.1").status_code == 200
    # ... and the address nearest the proxy counts, not one the visitor wrote first.
    assert _login(client, "wrong", "203.0.113.50, 198.51.100.7").status_code == 429


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, member, settings, frozen_clock):
    settings.TRUSTED_PROXIES = []
    settings.RATE_LIMIT_LOGIN = "2/60"
    settings.RATE_LIMIT_LOGIN_FAILURES = "0"
    answers = [_login(client, "wrong", f"192.0.2.{n}").status_code for n in range(3)]
    assert answers == [200, 200, 429]  # a made-up header does not dodge the limit


def test_metrics_allow_list_does_not_trust_the_proxy_itself(client, settings, db):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert client.get("/metrics").status_code == 200  # the scraper on the host itself
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 403


def test_failed_log_ins_make_the_guesser_wait_never_the_member_elsewhere(
    client, member, settings, frozen_clock
):
    """Finding 2: five wrong passwords for someone else's username from one
    address must not keep the member out from theirs."""
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.RATE_LIMIT_LOGIN = "0"
    settings.RATE_LIMIT_LOGIN_FAILURES = "3/300"
    guesser, home = "198.51.100.7", "203.0.113.1"
    # Successful log-ins do not count.
    for _ in range(5):
        assert _login(client, "correct horse battery", home).status_code == 302
        client.logout()
    # The guesser, from one address ...
    for _ in range(3):
        assert _login(client, "guess", guesser).status_code == 200
    # ... waits, even with the right password ...
    waiting = _login(client, "correct horse battery", guesser)
    assert waiting.status_code == 200
    assert "Too many failed log-ins for this account" in waiting.text
    assert "_auth_user_id" not in client.session
    # ... while the member logs in from their own address, on the site and the API.
    assert _login(client, "correct horse battery", home).status_code == 302
    client.logout()
    token = client.post(
        "/api/tokens",
        {"username": "ALICE", "password": "correct horse battery"},
        content_type="application/json",
        HTTP_X_FORWARDED_FOR=home,
    )
    assert token.status_code == 201
    from_guesser = client.post(
        "/api/tokens",
        {"username": "alice", "password": "correct horse battery"},
        content_type="application/json",
        HTTP_X_FORWARDED_FOR=guesser,
    )
    assert from_guesser.status_code == 429
    # The guesser's wait lasts one window.
    frozen_clock["t"] += 301
    assert _login(client, "correct horse battery", guesser).status_code == 302


def test_the_admin_log_in_is_limited_per_address_and_per_username(client, staff, settings):
    """Finding 1: twelve wrong passwords for a staff account, then the right
    one, must not get in."""
    url = reverse("admin:login")
    answers = [
        client.post(url, {"username": "curator", "password": f"guess {n}"}).status_code
        for n in range(12)
    ]
    assert answers[:10] == [200] * 10 and answers[10:] == [429, 429]
    right = client.post(url, {"username": "curator", "password": "correct horse battery"})
    assert right.status_code == 429 and "_auth_user_id" not in client.session


def test_the_admin_log_in_counts_failures_per_username(client, staff, settings):
    settings.RATE_LIMIT_LOGIN = "0"
    url = reverse("admin:login")
    for n in range(5):
        client.post(url, {"username": "curator", "password": f"guess {n}"})
    refused = client.post(url, {"username": "curator", "password": "correct horse battery"})
    assert "Too many failed log-ins for this account" in refused.text
    assert "_auth_user_id" not in client.session
    # The admin's failures count on the site's log-in too: one budget per address.
    assert (
        client.post(
            reverse("accounts:login"), {"username": "curator", "password": "correct horse battery"}
        ).status_code
        == 200
    )


def test_wrong_old_passwords_are_limited_and_counted_as_failed_log_ins(client, member, settings):
    """Finding 3: sixteen wrong old passwords went unlimited and uncounted."""
    settings.RATE_LIMIT_LOGIN_FAILURES = "5/300"
    client.force_login(member)
    url = reverse("accounts:password_change")
    new = "another long one 42"
    wrong = {"old_password": "guess", "new_password1": new, "new_password2": new}
    answers = [client.post(url, wrong) for _ in range(16)]
    codes = [a.status_code for a in answers]
    assert codes[:10] == [200] * 10 and set(codes[10:]) == {429}
    assert "Too many failed log-ins for this account" in answers[6].text  # past 5 failures
    member.refresh_from_db()
    assert member.check_password("correct horse battery")
    # They were counted as failed log-ins of this account from this address.
    client.logout()
    assert "Too many failed log-ins" in _login(client, "correct horse battery").text


def test_deleting_an_account_counts_password_checks_per_member_not_per_address(
    client, member, django_user_model, settings
):
    """Finding 8: ten failed log-ins by anyone behind the member's address
    must not stop them deleting their account."""
    settings.RATE_LIMIT_LOGIN_FAILURES = "0"
    for n in range(12):
        client.post(reverse("accounts:login"), {"username": "someone", "password": f"g{n}"})
    client.force_login(member)
    done = client.post(reverse("accounts:delete"), {"password": "correct horse battery"})
    assert done.status_code == 302
    assert not django_user_model.objects.filter(username="alice").exists()


def test_a_members_own_password_checks_are_limited_per_member(client, member, settings):
    settings.RATE_LIMIT_LOGIN_FAILURES = "0"
    client.force_login(member)
    codes = [
        client.post(reverse("accounts:delete"), {"password": f"guess {n}"}).status_code
        for n in range(11)
    ]
    assert codes == [400] * 10 + [429]


def test_a_wait_is_said_in_the_unit_a_person_would_use():
    from core.ratelimit import RateLimited

    said = [RateLimited(wait, "attempts").message for wait in (1, 90, 150, 7200, 18885)]
    assert said == [
        "Too many attempts. Try again in 1 second.",
        "Too many attempts. Try again in 90 seconds.",
        "Too many attempts. Try again in 3 minutes.",
        "Too many attempts. Try again in 2 hours.",
        "Too many attempts. Try again in 6 hours.",
    ]
