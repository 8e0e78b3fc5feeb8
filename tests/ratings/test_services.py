import threading

import pytest
from django.db import connection
from django.urls import reverse

from catalog.models import Movie
from ratings.models import Rating
from ratings.services import rating_set


def all_at_once(write, jobs) -> list[Exception]:
    """Run ``write(*job)`` for every job, each in its own thread, released
    together; returns what they raised."""
    barrier = threading.Barrier(len(jobs))
    failures = []

    def run(*job):
        try:
            barrier.wait()
            write(*job)
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_concurrent_writes_leave_one_row_per_pair_with_the_last_value(seeded_committed, member):
    movies = list(Movie.objects.order_by("pk")[:11])
    shared, distinct = movies[0], movies[1:]
    jobs = [(movie, 4) for movie in distinct] + [(shared, value % 5 + 1) for value in range(10)]
    acknowledged = []

    def write(movie, value):
        done = rating_set(user=member, movie=movie, value=value)
        acknowledged.append((movie.pk, value, done.rating.updated_at))

    assert not all_at_once(write, jobs)
    assert len(acknowledged) == 20
    rows = Rating.objects.filter(user=member)
    assert rows.count() == 11  # one per pair, nothing lost, nothing doubled
    for movie in distinct:
        assert rows.get(movie=movie).value == 4
    on_shared = [(stamp, value) for pk, value, stamp in acknowledged if pk == shared.pk]
    last_value = max(on_shared)[1]
    assert rows.get(movie=shared).value == last_value
    shared.refresh_from_db()
    assert shared.rating_count == Rating.objects.filter(movie=shared).count()


def test_concurrent_writes_by_many_members_to_one_movie_keep_its_counts_exact(
    seeded_committed, django_user_model
):
    movie = Movie.objects.order_by("pk").first()
    before = (movie.rating_count, movie.rating_sum, movie.liked_count)
    members = [
        django_user_model.objects.create_user(
            username=f"fan-{i}", password="x", age=30, gender="O", occupation="other"
        )
        for i in range(10)
    ]
    # Each member rates twice at once: a create and a change race each other.
    jobs = [(member, value) for member in members for value in (2, 5)]

    def write(member, value):
        rating_set(user=member, movie=movie, value=value)

    assert not all_at_once(write, jobs)
    stored = list(
        Rating.objects.filter(movie=movie, user__in=members).values_list("value", flat=True)
    )
    assert len(stored) == 10
    movie.refresh_from_db()
    assert movie.rating_count == before[0] + 10
    assert movie.rating_sum == before[1] + sum(stored)
    assert movie.liked_count == before[2] + sum(value >= 4 for value in stored)


def _deleted_elsewhere(member):
    """The member's account as it is after another request deleted it: this
    request still holds the member it authenticated."""
    from accounts.models import User

    User.objects.filter(pk=member.pk).delete()
    return member


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("write", ["rate", "dismiss", "watch", "not_seen"])
def test_a_write_for_a_member_deleted_meanwhile_is_refused_whole(write, seeded_committed, member):
    """Finding 6: a rating that raced account deletion was a 500 (an
    IntegrityError at commit). On PostgreSQL this exercises the one-statement
    write, on SQLite the ORM's."""
    from ratings import services

    movie = Movie.objects.order_by("pk").first()
    before = (movie.rating_count, movie.rating_sum, movie.liked_count)
    gone = _deleted_elsewhere(member)
    calls = {
        "rate": lambda: services.rating_set(user=gone, movie=movie, value=5),
        "dismiss": lambda: services.dismissal_add(user=gone, movie=movie),
        "watch": lambda: services.watchlist_add(user=gone, movie=movie),
        "not_seen": lambda: services.not_seen_add(user=gone, movie=movie),
    }
    with pytest.raises(services.MemberGone):
        calls[write]()
    movie.refresh_from_db()
    assert (movie.rating_count, movie.rating_sum, movie.liked_count) == before
    assert not Rating.objects.filter(user_id=member.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_api_and_the_site_answer_401_to_a_write_of_a_deleted_member(
    seeded_committed, member, monkeypatch
):
    from django.test import Client

    from accounts.services import api_token_create

    movie = Movie.objects.order_by("pk").first()
    token = api_token_create(user=member)
    other = type(member).objects.create_user(username="bob", password="x" * 12)
    site = Client()
    site.force_login(other)
    # The account goes between authentication and the write.
    real = rating_set

    def deleted_first(*, user, movie, value):
        _deleted_elsewhere(user)
        return real(user=user, movie=movie, value=value)

    monkeypatch.setattr("ratings.services.rating_set", deleted_first)
    api = Client().post(
        "/api/ratings",
        {"movie_id": movie.pk, "value": 4},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert api.status_code == 401 and "no longer exists" in api.json()["detail"]
    page = site.post(reverse("ratings:rate", args=[movie.pk]), {"value": 4}, HTTP_HX_REQUEST="true")
    assert page.status_code == 401 and "no longer exists" in page.text
    assert not Rating.objects.filter(user_id__in=[member.pk, other.pk]).exists()


def test_havent_seen_is_refused_for_a_movie_the_member_rated(seeded, member):
    """Finding 10: "haven't seen it" could be saved for a movie already rated."""
    from ratings.models import NotSeen
    from ratings.services import RatingError, not_seen_add

    movie = Movie.objects.order_by("pk").first()
    rating_set(user=member, movie=movie, value=4)
    with pytest.raises(RatingError, match="you have seen it"):
        not_seen_add(user=member, movie=movie)
    assert not NotSeen.objects.exists()
