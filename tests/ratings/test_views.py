import pytest
from django.test import Client
from django.urls import reverse
from django.utils.http import urlencode

from catalog.models import Movie
from ratings.models import Rating
from ratings.services import rating_set

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def movie(seeded):
    return Movie.objects.get(movielens_id=1)


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def rate(client, movie, **data):
    return client.post(reverse("ratings:rate", args=[movie.pk]), data, **HTMX)


def test_clicking_a_star_saves_the_rating_and_returns_the_widget(member_client, member, movie):
    response = rate(member_client, movie, value="4")

    assert response.status_code == 200
    assert Rating.objects.get(user=member, movie=movie).value == 4
    assert "Saved" in response.text
    assert response.text.count('class="star on"') == 4
    assert 'aria-pressed="true"' in response.text
    assert "tasteChanged" in response["HX-Trigger"]


def test_clicking_another_star_changes_the_rating(member_client, member, movie):
    rate(member_client, movie, value="4")
    rate(member_client, movie, value="2")

    assert list(
        Rating.objects.filter(user=member, movie=movie).values_list("value", flat=True)
    ) == [2]


def test_the_clear_control_removes_the_rating(member_client, member, movie):
    rate(member_client, movie, value="4")
    response = rate(member_client, movie, clear="1")

    assert not Rating.objects.filter(user=member, movie=movie).exists()
    assert "Rating removed" in response.text
    assert 'class="star on"' not in response.text


@pytest.mark.parametrize("bad", ["0", "6", "abc", "", "3.5", "-1"])
def test_bad_values_show_an_error_and_change_nothing(member_client, member, movie, bad):
    rate(member_client, movie, value="3")

    response = rate(member_client, movie, value=bad)

    assert response.status_code == 422
    assert "A rating must be a whole number from 1 to 5." in response.text
    assert Rating.objects.get(user=member, movie=movie).value == 3
    assert "HX-Trigger" not in response


def test_rating_an_unknown_movie_is_404(member_client, member, seeded):
    response = member_client.post(reverse("ratings:rate", args=[999999]), {"value": "4"}, **HTMX)
    assert response.status_code == 404
    assert not Rating.objects.filter(user=member).exists()


def test_rating_a_hidden_movie_is_404(member_client, member, movie):
    Movie.objects.filter(pk=movie.pk).update(is_visible=False)
    response = rate(member_client, movie, value="4")
    assert response.status_code == 404
    assert not Rating.objects.filter(user=member).exists()


def test_without_javascript_a_star_is_a_form_post_that_comes_back(member_client, member, movie):
    page = reverse("catalog:list") + "?q=Wild"
    response = member_client.post(
        reverse("ratings:rate", args=[movie.pk]), {"value": "5", "next": page}
    )

    assert response.status_code == 302
    assert response["Location"] == page
    assert Rating.objects.get(user=member, movie=movie).value == 5
    followed = member_client.get(page)
    assert f"Saved: {movie.title}." in followed.text


def test_without_javascript_a_bad_value_comes_back_with_the_error(member_client, member, movie):
    response = member_client.post(
        reverse("ratings:rate", args=[movie.pk]), {"value": "9"}, follow=True
    )
    assert "A rating must be a whole number from 1 to 5." in response.text
    assert not Rating.objects.filter(user=member).exists()


def test_next_never_redirects_to_another_site(member_client, movie):
    response = member_client.post(
        reverse("ratings:rate", args=[movie.pk]), {"value": "5", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("catalog:detail", args=[movie.pk])


def test_visitors_are_asked_to_log_in(client, movie):
    before = Rating.objects.count()
    plain = client.post(
        reverse("ratings:rate", args=[movie.pk]), {"value": "4", "next": "/movies/"}
    )
    assert plain.status_code == 302
    assert plain["Location"].startswith(reverse("accounts:login"))

    htmx = rate(client, movie, value="4")
    assert htmx["HX-Redirect"].startswith(reverse("accounts:login"))
    assert Rating.objects.count() == before


def test_the_log_in_comes_back_to_the_whole_page_the_visitor_was_on(client, movie, member):
    """Finding 10: `next` was not encoded, so ?genre=drama&page=2 lost its page."""
    came_from = "/movies/?genre=drama&page=2"
    sent = client.post(reverse("ratings:watch", args=[movie.pk]), {"next": came_from})
    assert sent["Location"] == f"{reverse('accounts:login')}?{urlencode({'next': came_from})}"
    logged_in = client.post(
        sent["Location"], {"username": "alice", "password": "correct horse battery"}
    )
    assert logged_in["Location"] == came_from


def test_visitors_see_a_log_in_link_instead_of_stars(client, movie):
    response = client.get(reverse("catalog:detail", args=[movie.pk]))
    assert "Log in to rate" in response.text
    assert 'name="value"' not in response.text


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(member, movie):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)

    response = strict.post(reverse("ratings:rate", args=[movie.pk]), {"value": "4"}, **HTMX)

    assert response.status_code == 403
    assert not Rating.objects.filter(user=member).exists()


def test_the_csrf_token_is_sent_once_on_body_for_htmx(member_client, movie):
    page = member_client.get(reverse("catalog:detail", args=[movie.pk]))
    assert '<body hx-headers=\'{"X-CSRFToken": "' in page.text


def test_widget_is_keyboard_accessible_with_labels(member_client, movie):
    response = member_client.get(reverse("catalog:detail", args=[movie.pk]))
    for stars in range(1, 6):
        label = f'aria-label="Rate {movie.title} {stars} star{"s" if stars > 1 else ""} out of 5"'
        assert label in response.text
    assert f'<legend class="visually-hidden">Your rating of {movie.title}</legend>' in response.text


def test_history_lists_ratings_newest_first_and_paginates(client, member, seeded):
    movies = _rate_many(member, 25)
    client.force_login(member)

    first = client.get(reverse("accounts:history"))
    second = client.get(reverse("accounts:history"), {"page": 2})

    titles = [r.movie.title for r in first.context["page"]]
    assert titles[0] == movies[-1].title
    assert len(titles) == 20
    assert len(second.context["page"]) == 5
    assert "Page 1 of 2" in first.text


def test_history_removes_a_rating_inline(client, member, seeded):
    (movie,) = _rate_many(member, 1)
    client.force_login(member)
    rating = Rating.objects.get(user=member, movie=movie)

    response = client.post(reverse("ratings:delete", args=[rating.pk]), HTTP_HX_REQUEST="true")

    assert response.status_code == 200 and response.text == ""
    assert "tasteChanged" in response["HX-Trigger"]
    assert not Rating.objects.filter(pk=rating.pk).exists()


def test_removing_someone_elses_rating_is_404_and_changes_nothing(client, member, seeded):
    theirs = Rating.objects.exclude(user=member).first()
    client.force_login(member)

    response = client.post(reverse("ratings:delete", args=[theirs.pk]))

    assert response.status_code == 404
    assert Rating.objects.filter(pk=theirs.pk).exists()


def test_history_query_count_does_not_grow_with_the_page(
    client, member, seeded, django_assert_num_queries
):
    _rate_many(member, 20)
    client.force_login(member)
    # session, user, count, ratings page, genres
    with django_assert_num_queries(5):
        client.get(reverse("accounts:history"))


def test_empty_history_says_what_to_do(client, member):
    client.force_login(member)
    response = client.get(reverse("accounts:history"))
    assert "You have not rated anything yet" in response.text


def _rate_many(user, count):
    movies = list(Movie.objects.order_by("pk")[:count])
    for value, movie in enumerate(movies):
        rating_set(user=user, movie=movie, value=value % 5 + 1)
    return movies
