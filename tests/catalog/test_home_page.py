import pytest
from django.urls import reverse

from catalog.models import Movie


def test_home_page_lists_movies_with_year_and_genres(client, seeded):
    first = Movie.objects.order_by("title").first()
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert first.title in response.text
    assert str(first.year) in response.text
    assert all(genre.name in response.text for genre in first.genres.all())


def test_home_page_never_lists_hidden_movies(client, seeded):
    Movie.objects.filter(movielens_id=1).update(is_visible=False)
    response = client.get(reverse("home"), {"page": 1})
    titles = [m.title for m in response.context["page"]]
    assert "The Wild Garden" not in titles


@pytest.mark.django_db
def test_home_page_without_movies_says_how_to_import_them(client):
    response = client.get(reverse("home"))
    assert "seed_movielens" in response.text
