"""What a curator does in the admin keeps the numbers right, needs the
matching permission, and a page view never writes."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from catalog.models import Movie
from ratings.models import Rating
from ratings.services import rating_set


def counts(movie):
    movie.refresh_from_db()
    expected = Rating.objects.filter(movie=movie)
    truth = (
        expected.count(),
        sum(r.value for r in expected),
        expected.filter(value__gte=4).count(),
    )
    return (movie.rating_count, movie.rating_sum, movie.liked_count), truth


@pytest.fixture
def curator_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def viewer(django_user_model):
    """Staff who may look at everything and change nothing."""
    user = django_user_model.objects.create_user(
        username="viewer", password="correct horse battery", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


def test_an_admin_added_rating_keeps_stats_right_and_the_member_can_delete_it(
    curator_client, client, member, seeded
):
    movie = Movie.objects.order_by("pk").first()
    taste = member.taste_version
    added = curator_client.post(
        reverse("admin:ratings_rating_add"),
        {"user": member.pk, "movie": movie.pk, "value": 5, "_save": "Save"},
    )
    assert added.status_code == 302
    stored, truth = counts(movie)
    assert stored == truth
    member.refresh_from_db()
    assert member.taste_version > taste  # cached lists are not served after it

    rating = Rating.objects.get(user=member, movie=movie)
    curator_client.post(
        reverse("admin:ratings_rating_change", args=[rating.pk]),
        {"user": member.pk, "movie": movie.pk, "value": 2, "_save": "Save"},
    )
    assert Rating.objects.get(pk=rating.pk).value == 2
    assert counts(movie)[0] == counts(movie)[1]

    curator_client.logout()
    client.force_login(member)
    deleted = client.post(reverse("ratings:delete", args=[rating.pk]))
    assert deleted.status_code == 302
    assert counts(movie)[0] == counts(movie)[1]


def test_a_rating_of_a_hidden_movie_is_refused_in_the_admin(curator_client, member, seeded):
    movie = Movie.objects.order_by("pk").first()
    Movie.objects.filter(pk=movie.pk).update(is_visible=False)
    response = curator_client.post(
        reverse("admin:ratings_rating_add"),
        {"user": member.pk, "movie": movie.pk, "value": 4, "_save": "Save"},
    )
    assert response.status_code == 200 and "hidden" in response.text
    assert not Rating.objects.filter(user=member, movie=movie).exists()


def test_deleting_a_member_in_the_admin_recounts_their_movies(curator_client, member, seeded):
    movies = list(Movie.objects.order_by("pk")[:3])
    for movie in movies:
        rating_set(user=member, movie=movie, value=5)
    response = curator_client.post(
        reverse("admin:accounts_user_delete", args=[member.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk=member.pk).exists()
    for movie in movies:
        stored, truth = counts(movie)
        assert stored == truth


def test_deleting_a_movie_gives_its_raters_a_new_taste_version(curator_client, member, seeded):
    movie = Movie.objects.order_by("pk").first()
    rating_set(user=member, movie=movie, value=5)
    member.refresh_from_db()
    taste = member.taste_version
    curator_client.post(reverse("admin:catalog_movie_delete", args=[movie.pk]), {"post": "yes"})
    assert not Movie.objects.filter(pk=movie.pk).exists()
    member.refresh_from_db()
    assert member.taste_version > taste


def test_hiding_in_the_changelist_moves_the_catalogue_stamp(curator_client, seeded):
    from gnn.bridge.engine import catalogue_stamp

    movie = Movie.objects.order_by("pk").first()
    before = catalogue_stamp()
    response = curator_client.post(
        reverse("admin:catalog_movie_changelist"),
        {"action": "hide_movies", "_selected_action": [movie.pk]},
    )
    assert response.status_code == 302
    movie.refresh_from_db()
    assert not movie.is_visible
    assert catalogue_stamp() != before


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("admin:catalog_movie_changelist", {"action": "hide_movies"}),
        ("admin:gnn_modelversion_changelist", {"action": "activate"}),
        ("admin:gnn_trainingrun_retrain", {}),
        ("admin:gnn_trainingrun_resume", {}),
    ],
)
def test_view_only_staff_cannot_change_what_is_served(client, viewer, seeded, url, data):
    client.force_login(viewer)
    movie = Movie.objects.order_by("pk").first()
    if "action" in data:
        data = {**data, "_selected_action": [movie.pk]}
    response = client.post(reverse(url), data)
    assert response.status_code == 403
    movie.refresh_from_db()
    assert movie.is_visible
    from gnn.models import TrainingRun

    assert not TrainingRun.objects.exists()


def test_view_only_staff_do_not_see_the_actions(client, viewer, seeded):
    client.force_login(viewer)
    page = client.get(reverse("admin:catalog_movie_changelist"))
    assert page.status_code == 200
    assert "hide_movies" not in page.text


@pytest.mark.parametrize(
    "url",
    [
        "admin:gnn_trainingrun_changelist",
        "admin:gnn_modelversion_changelist",
        "admin:catalog_movie_changelist",
        "admin:ratings_rating_changelist",
        "admin:accounts_user_changelist",
        "admin:accounts_apitoken_changelist",
    ],
)
def test_changelist_pages_never_write(curator_client, trained, url):
    from gnn.models import TrainingRun

    TrainingRun.objects.create(trigger="admin", status="running")  # stale: no heartbeat
    curator_client.get(reverse(url))  # the session is written on the first view
    with CaptureQueriesContext(connection) as queries:
        response = curator_client.get(reverse(url))
    assert response.status_code == 200
    writes = [
        q["sql"] for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "django_session" not in q["sql"]
    ]  # fmt: skip
    assert writes == []


def test_editing_a_members_demographics_in_the_admin_renews_their_lists(
    curator_client, member, seeded
):
    member.refresh_from_db()
    taste = member.taste_version
    page = curator_client.get(reverse("admin:accounts_user_change", args=[member.pk]))
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        age=70, gender="F", occupation="retired", zip_code="", date_joined_0="2026-01-01",
        date_joined_1="00:00:00", _save="Save",
    )  # fmt: skip
    data.pop("groups", None)
    data.pop("user_permissions", None)
    data.pop("last_login", None)
    data.pop("date_joined", None)
    response = curator_client.post(reverse("admin:accounts_user_change", args=[member.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    member.refresh_from_db()
    assert member.age == 70 and member.taste_version > taste
