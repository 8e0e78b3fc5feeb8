"""Every admin page the site mounts: who may see it."""

import pytest
from django.urls import reverse

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
