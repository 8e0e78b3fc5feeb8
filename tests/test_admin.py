import pytest
from django.urls import reverse

from catalog.models import Movie
from ratings.models import Rating

ADMIN_PAGES = [
    "admin:index",
    "admin:catalog_movie_changelist",
    "admin:catalog_genre_changelist",
    "admin:accounts_user_changelist",
    "admin:ratings_rating_changelist",
]


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_load_for_staff(client, staff, seeded, name):
    client.force_login(staff)
    response = client.get(reverse(name))
    assert response.status_code == 200


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_send_members_to_the_login_page(client, member, name):
    client.force_login(member)
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_send_visitors_to_the_login_page(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_admin_movie_search_filter_and_edit(client, staff, seeded):
    client.force_login(staff)
    url = reverse("admin:catalog_movie_changelist")

    found = client.get(url, {"q": "Wild Garden"})
    assert "The Wild Garden" in found.text
    assert "The Distant Orbit" not in found.text

    nineties = client.get(url, {"decade": "1990"})
    assert all(m.year and 1990 <= m.year < 2000 for m in nineties.context["cl"].result_list)
    hidden = client.get(url, {"is_visible__exact": "0"})
    assert hidden.context["cl"].result_count == 0

    movie = Movie.objects.get(movielens_id=1)
    change = client.get(reverse("admin:catalog_movie_change", args=[movie.pk]))
    assert change.status_code == 200


def test_admin_ratings_search_by_user_and_filter_by_value(client, staff, seeded):
    client.force_login(staff)
    url = reverse("admin:ratings_rating_changelist")
    response = client.get(url, {"q": "movielens-40", "value__exact": "5"})
    shown = response.context["cl"].result_list
    expected = Rating.objects.filter(user__username="movielens-40", value=5).count()
    assert len(shown) == expected
    assert all(r.user.username == "movielens-40" and r.value == 5 for r in shown)
