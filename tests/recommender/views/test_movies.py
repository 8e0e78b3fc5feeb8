import pytest
from django.urls import reverse

from catalog.models import Genre, Movie
from ratings.services import rating_set


def titles(response):
    return [movie.title for movie in response.context["page"]]


def test_catalogue_lists_visible_movies_most_rated_first(client, seeded):
    response = client.get(reverse("catalog:list"))
    counts = [m.rating_count for m in response.context["page"]]
    assert counts == sorted(counts, reverse=True)
    assert response.context["page"].paginator.count == Movie.objects.count()


def test_catalogue_search_by_title(client, seeded):
    response = client.get(reverse("catalog:list"), {"q": "wild"})
    assert titles(response)
    assert all("wild" in t.lower() for t in titles(response))


def test_catalogue_filters_by_genre_and_year_range(client, seeded):
    horror = Genre.objects.get(name="Horror")
    response = client.get(
        reverse("catalog:list"), {"genre": horror.slug, "year_min": 1950, "year_max": 1980}
    )
    for movie in response.context["page"]:
        assert horror in movie.genres.all()
        assert 1950 <= movie.year <= 1980
    expected = Movie.objects.filter(genres=horror, year__gte=1950, year__lte=1980).count()
    assert response.context["page"].paginator.count == expected


@pytest.mark.parametrize("sort", ["title", "newest", "oldest", "rating", "popular"])
def test_catalogue_sorts(client, seeded, sort):
    movies = list(client.get(reverse("catalog:list"), {"sort": sort}).context["page"])
    if sort == "title":
        assert [m.title for m in movies] == sorted(m.title for m in movies)
    elif sort == "newest":
        years = [m.year for m in movies if m.year]
        assert years == sorted(years, reverse=True)
    elif sort == "oldest":
        years = [m.year for m in movies if m.year]
        assert years == sorted(years)
    elif sort == "rating":
        means = [m.damped_mean for m in movies]
        assert means == sorted(means, reverse=True)


def test_catalogue_hides_hidden_movies(client, seeded):
    hidden = Movie.objects.get(movielens_id=1)
    Movie.objects.filter(pk=hidden.pk).update(is_visible=False)
    response = client.get(reverse("catalog:list"), {"q": hidden.title})
    assert hidden.title not in titles(response)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"year_min": "1990", "year_max": "1980"}, "must not be before"),
        ({"year_min": "nineteen"}, "Enter a whole number"),
        ({"genre": "no-such-genre"}, "Select a valid choice"),
        ({"sort": "random"}, "Select a valid choice"),
        ({"q": "x" * 101}, "at most 100 characters"),
    ],
)
def test_catalogue_bad_filters_say_what_is_wrong(client, seeded, params, message):
    response = client.get(reverse("catalog:list"), params)
    assert response.status_code == 400
    assert message in response.text


def test_catalogue_htmx_request_gets_only_the_results(client, seeded):
    response = client.get(reverse("catalog:list"), {"q": "the"}, HTTP_HX_REQUEST="true")
    assert response.text.lstrip().startswith('<section id="results"')
    assert "<html" not in response.text


def test_catalogue_paginates_keeping_the_filters(client, seeded):
    response = client.get(reverse("catalog:list"), {"sort": "title"})
    assert "sort=title&amp;page=2" in response.text
    second = client.get(reverse("catalog:list"), {"sort": "title", "page": 2})
    assert titles(second)[0] > titles(response)[-1]


def test_catalogue_rows_show_the_members_own_rating(client, member, seeded):
    movie = Movie.objects.order_by("-rating_count", "title", "pk").first()
    rating_set(user=member, movie=movie, value=5)
    client.force_login(member)
    response = client.get(reverse("catalog:list"))
    first = response.context["page"][0]
    assert first == movie
    assert "Your rating: 5/5" in response.text


def test_catalogue_query_count_is_pinned(client, member, seeded, django_assert_num_queries):
    client.force_login(member)
    # session, user, genres (form choices), count, page, genres of the page, my ratings,
    # which of them are on my watchlist
    with django_assert_num_queries(8):
        client.get(reverse("catalog:list"), {"sort": "popular"})


def test_movie_page_shows_details_average_and_similar_movies(client, member, seeded):
    movie = Movie.objects.order_by("-rating_count").first()
    client.force_login(member)
    rating_set(user=member, movie=movie, value=4)
    movie.refresh_from_db()

    response = client.get(reverse("catalog:detail", args=[movie.pk]))

    assert movie.title in response.text
    assert movie.imdb_url in response.text
    assert f'data-testid="count">{movie.rating_count}<' in response.text
    assert f"{movie.rating_sum / movie.rating_count:.2f}" in response.text
    assert "Your rating: 4/5" in response.text
    assert response.context["similar"]
    assert movie not in response.context["similar"]


def test_hidden_and_unknown_movie_pages_are_404(client, seeded):
    movie = Movie.objects.get(movielens_id=1)
    Movie.objects.filter(pk=movie.pk).update(is_visible=False)
    assert client.get(reverse("catalog:detail", args=[movie.pk])).status_code == 404
    assert client.get(reverse("catalog:detail", args=[999999])).status_code == 404
