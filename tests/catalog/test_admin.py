"""Curators' movie pages in the admin."""

from django.urls import reverse

from catalog.models import Movie


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
