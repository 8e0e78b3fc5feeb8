"""Load test users: members in a browser, API clients, and pure writers.

Run through benchmarks/loadtest.py, which starts gunicorn on 127.0.0.1 against
a copy of the database and reads the results. Every acknowledged rating is
recorded (LOADTEST_ACK_FILE) so that the runner can check afterwards that the
database holds exactly those ratings, no more, no fewer.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import time
import uuid
from pathlib import Path

from locust import HttpUser, between, events, task

ACK_FILE = os.environ.get("LOADTEST_ACK_FILE")
# The fault soak's record of every request (start, name, status, ms): which
# failed while a fault was on, and when they stopped failing.
EVENTS_FILE = os.environ.get("LOADTEST_EVENTS")
# Accounts made by the runner beforehand (a session for each member, a token
# for each API client), so that the measured phases are not dominated by
# password hashing; the Newcomer class measures real sign-ups on its own.
ACCOUNTS = (
    json.loads(Path(os.environ["LOADTEST_ACCOUNTS"]).read_text())
    if os.environ.get("LOADTEST_ACCOUNTS")
    else {"members": [], "api": []}
)
_next_account = {"members": itertools.count(), "api": itertools.count()}
_acknowledged: dict[str, dict[str, int]] = {}  # username -> {movie id: last value}
# Writes whose answer never came (a connection cut, a 5xx): they may or may
# not have been stored; the check afterwards allows either.
_uncertain: dict[str, dict[str, list[int]]] = {}
_lock = threading.Lock()
_movies: list[int] = []
_CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')


def acknowledge(username: str, movie_id: int, value: int | None) -> None:
    with _lock:
        mine = _acknowledged.setdefault(username, {})
        if value is None:
            mine.pop(str(movie_id), None)
        else:
            mine[str(movie_id)] = value


# Recommendation lists answered 200 per member (the panel, the home page, the
# API): each must become one impression (loadtest.py counts them afterwards).
_lists: dict[str, int] = {}


def served_list(username: str, response) -> None:
    if response.status_code == 200:
        with _lock:
            _lists[username] = _lists.get(username, 0) + 1


def uncertain(username: str, movie_id: int, value: int) -> None:
    with _lock:
        _uncertain.setdefault(username, {}).setdefault(str(movie_id), []).append(value)


def answered(status: int) -> bool:
    """Whether a write's answer says for sure what happened to it."""
    return 0 < status < 500


@events.quitting.add_listener
def _write_acknowledged(**_kwargs):
    # At quitting, not test_stop: users finishing their last request during
    # --stop-timeout still acknowledge it.
    if ACK_FILE:
        with _lock, open(ACK_FILE, "w") as handle:
            json.dump(_acknowledged, handle)
        with _lock, open(ACK_FILE + ".uncertain", "w") as handle:
            json.dump(_uncertain, handle)
        with _lock, open(ACK_FILE + ".lists", "w") as handle:
            json.dump(_lists, handle)


_events = open(EVENTS_FILE, "a", buffering=1) if EVENTS_FILE else None  # noqa: SIM115


@events.request.add_listener
def _record_request(name, response_time, response=None, exception=None, **_kwargs):
    if _events is None:
        return
    status = getattr(response, "status_code", 0) or 0
    if exception is not None and not status:
        status = 0
    started = time.time() - response_time / 1000
    with _lock:
        _events.write(f"{started:.3f},{name},{status},{response_time:.0f}\n")


def movie_ids(client) -> list[int]:
    """Popular movies first, as members meet them; fetched once per process."""
    with _lock:
        if _movies:
            return _movies
    found = []
    for page in (1, 2, 3):
        answer = client.get(
            f"/api/movies?sort=popular&page_size=100&page={page}", name="(setup) movies"
        )
        found += [movie["id"] for movie in answer.json()["items"]]
    with _lock:
        _movies[:] = found
    return _movies


def take_account(kind: str) -> dict:
    with _lock:
        index = next(_next_account[kind])
    pool = ACCOUNTS[kind]
    if index >= len(pool):
        raise RuntimeError(f"the runner made only {len(pool)} {kind} accounts")
    return pool[index]


def pick_movie(client) -> int:
    ids = movie_ids(client)
    # Skewed towards the popular ones, like real traffic.
    return ids[min(int(random.expovariate(1 / 40)), len(ids) - 1)]


class _Browser(HttpUser):
    abstract = True

    def _csrf_from_home(self) -> None:
        home = self.client.get("/", name="home page")
        if getattr(self, "username", None):
            served_list(self.username, home)
        match = _CSRF.search(home.text)
        self.csrf = match.group(1) if match else ""


class Member(_Browser):
    """A member in the browser: reads recommendations, browses, searches, rates."""

    wait_time = between(1, 3)
    weight = 3

    def on_start(self):
        account = take_account("members")
        self.username = account["username"]
        self.client.cookies.set("sessionid", account["session"])
        self._csrf_from_home()

    def _htmx(self, **extra) -> dict:
        return {"HX-Request": "true", "X-CSRFToken": self.csrf, **extra}

    @task(4)
    def recommendations(self):
        served_list(
            self.username,
            self.client.get(
                "/recommendations/", headers=self._htmx(), name="recommendations (partial)"
            ),
        )

    @task(3)
    def rate(self):
        movie = pick_movie(self.client)
        value = random.randint(1, 5)
        with self.client.post(
            f"/ratings/movie/{movie}/",
            {"value": value},
            headers=self._htmx(),
            name="rate (star widget)",
            catch_response=True,
        ) as answer:
            if answer.status_code == 200 and "Saved" in answer.text:
                acknowledge(self.username, movie, value)
                answer.success()
            else:
                if not answered(answer.status_code):
                    uncertain(self.username, movie, value)
                answer.failure(f"not saved: {answer.status_code}")

    @task(2)
    def browse(self):
        sort = random.choice(["popular", "rating", "title", "newest"])
        self.client.get(f"/movies/?sort={sort}&page={random.randint(1, 5)}", name="catalogue")

    @task(1)
    def search(self):
        word = random.choice(["star", "love", "the", "man", "night", "war", "life"])
        self.client.get(f"/movies/?q={word}", headers={"HX-Request": "true"}, name="search")

    @task(1)
    def movie_page(self):
        self.client.get(f"/movies/{pick_movie(self.client)}/", name="movie page")


class Newcomer(Member):
    """Signs up through the form (password hashing and all), then is a member."""

    weight = 1

    def on_start(self):
        self.username = f"new-{uuid.uuid4().hex[:12]}"
        self.client.get("/accounts/signup/", name="sign up (page)")
        self.client.post(
            "/accounts/signup/",
            {
                "username": self.username,
                "password1": "load test passphrase 42",
                "password2": "load test passphrase 42",
                "age": random.randint(16, 70),
                "gender": random.choice("MFO"),
                "occupation": random.choice(["student", "engineer", "writer", "other"]),
                "zip_code": f"{random.randint(0, 99999):05d}",
                "csrfmiddlewaretoken": self.client.cookies.get("csrftoken") or "",
            },
            name="sign up",
        )
        self._csrf_from_home()


class _ApiMember(HttpUser):
    abstract = True

    def on_start(self):
        account = take_account("api")
        self.username = account["username"]
        self.user_id = account["user_id"]
        self.client.headers["Authorization"] = f"Bearer {account['token']}"

    def rate(self):
        movie, value = pick_movie(self.client), random.randint(1, 5)
        answer = self.client.post(
            "/api/ratings", json={"movie_id": movie, "value": value}, name="API rate"
        )
        if answer.status_code in (200, 201):
            acknowledge(self.username, movie, value)
        elif not answered(answer.status_code):
            uncertain(self.username, movie, value)


class ApiNewcomer(HttpUser):
    """Signs up through the API (password hashing and all)."""

    wait_time = between(1, 3)
    weight = 1

    @task
    def sign_up(self):
        self.client.post(
            "/api/users",
            json={
                "username": f"api-new-{uuid.uuid4().hex[:12]}",
                "password": "load test passphrase 42",
                "age": random.randint(16, 70),
                "gender": random.choice("MFO"),
                "occupation": random.choice(["student", "engineer", "writer", "other"]),
            },
            name="API sign up",
        )


class ApiClient(_ApiMember):
    """A program on the JSON API: one member, token auth."""

    wait_time = between(1, 3)
    weight = 2

    @task(4)
    def recommendations(self):
        served_list(
            self.username,
            self.client.get(
                f"/api/recommendations/{self.user_id}?n=10", name="API recommendations"
            ),
        )

    @task(3)
    def write(self):
        self.rate()

    @task(2)
    def movies(self):
        self.client.get(f"/api/movies?sort=popular&page={random.randint(1, 10)}", name="API movies")

    @task(1)
    def search(self):
        word = random.choice(["star", "love", "the", "man"])
        self.client.get(f"/api/movies/search?q={word}", name="API search")


class Writer(_ApiMember):
    """Rates, and nothing else, about once a second: a person going through a
    list clicking stars as fast as they decide."""

    wait_time = between(0.5, 1.5)
    weight = 1

    @task
    def write(self):
        self.rate()
