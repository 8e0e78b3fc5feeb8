from django.urls import reverse

from catalog.models import Movie
from ratings.models import Dismissal
from ratings.services import dismissal_add, rating_set

HTMX = {"HTTP_HX_REQUEST": "true"}


def recommended(response):
    return [item.movie for item in response.context["recommendations"].items]


def test_visitors_see_popular_movies_and_an_invitation(client, seeded):
    response = client.get(reverse("home"))
    assert "Sign up, it takes a minute" in response.text
    movies = response.context["movies"]
    assert [m.liked_count for m in movies] == sorted((m.liked_count for m in movies), reverse=True)


def test_members_home_shows_ten_recommendations_with_their_basis(client, member, seeded):
    client.force_login(member)
    response = client.get(reverse("home"))
    assert len(recommended(response)) == 10
    assert 'data-testid="basis"' in response.text


def test_panel_offers_twenty(client, member, seeded):
    client.force_login(member)
    response = client.get(reverse("recommendations"), {"n": 20}, **HTMX)
    assert len(recommended(response)) == 20
    assert response.text.lstrip().startswith('<section id="recommendations"')


def test_panel_ignores_sizes_it_does_not_offer(client, member, seeded):
    client.force_login(member)
    response = client.get(reverse("recommendations"), {"n": "500"}, **HTMX)
    assert len(recommended(response)) == 10


def test_the_panel_says_where_it_refreshes_from_on_its_shelf(client, member, seeded):
    """static/js/app.js fetches data-refresh after an answer and adds what is new."""
    client.force_login(member)
    response = client.get(reverse("home"), {"genre": "drama"})
    assert 'data-refresh="/recommendations/?n=10&amp;genre=drama"' in response.text
    refreshed = client.get("/recommendations/?n=10&genre=drama", **HTMX)
    assert refreshed.status_code == 200 and 'class="rec-card"' in refreshed.text


def test_rated_movies_leave_the_recommendations(client, member, seeded):
    client.force_login(member)
    first = recommended(client.get(reverse("recommendations"), **HTMX))[0]
    rating_set(user=member, movie=first, value=5)

    after = recommended(client.get(reverse("recommendations"), **HTMX))

    assert first not in after


def test_not_interested_removes_a_movie_until_undone(client, member, seeded):
    client.force_login(member)
    first = recommended(client.get(reverse("recommendations"), **HTMX))[0]

    response = client.post(reverse("ratings:dismiss", args=[first.pk]), **HTMX)
    assert response.status_code == 200
    assert "tasteChanged" in response["HX-Trigger"]
    assert first not in recommended(client.get(reverse("recommendations"), **HTMX))
    profile = client.get(reverse("accounts:profile"))
    assert first.title in profile.text

    client.post(reverse("ratings:undismiss", args=[first.pk]), **HTMX)
    assert first in recommended(client.get(reverse("recommendations"), **HTMX))


def test_undoing_someone_elses_dismissal_is_404(client, member, django_user_model, seeded):
    other = django_user_model.objects.create_user(username="bob", password="x", age=40)
    movie = Movie.objects.first()
    dismissal_add(user=other, movie=movie)
    client.force_login(member)

    response = client.post(reverse("ratings:undismiss", args=[movie.pk]))

    assert response.status_code == 404
    assert Dismissal.objects.filter(user=other, movie=movie).exists()


def test_recommendations_query_count_is_pinned(client, member, seeded, django_assert_num_queries):
    client.force_login(member)
    client.get(reverse("recommendations"), **HTMX)  # fill the cache
    # session, user, movies of the list, their genres; with no model serving,
    # the filter's genres and decades come from the database too
    with django_assert_num_queries(6):
        client.get(reverse("recommendations"), **HTMX)


def test_recommendations_from_the_model_need_no_query_once_cached(
    client, member, trained, django_assert_num_queries
):
    client.force_login(member)
    client.get(reverse("recommendations"), **HTMX)  # computes and caches
    # session and user only: the list, its movies and genres come from memory
    with django_assert_num_queries(2):
        response = client.get(reverse("recommendations"), **HTMX)
    assert response.context["recommendations"].source == "model"
    assert len(recommended(response)) == 10


def test_members_home_page_query_count_is_pinned(
    client, member, trained, django_assert_num_queries
):
    client.force_login(member)
    client.get(reverse("home"))
    # session, user: the list itself is cached
    with django_assert_num_queries(2):
        client.get(reverse("home"))


def test_choosing_a_shelf_puts_it_in_the_address_bar(client, member, seeded):
    client.force_login(member)
    chosen = client.get(
        reverse("recommendations"), {"genre": "drama", "n": "10"},
        HTTP_HX_REQUEST="true", HTTP_HX_TRIGGER="panel-tools",
    )  # fmt: skip
    assert chosen["HX-Push-Url"] == "/?n=10&genre=drama"
    # The panel refreshing itself after an answer leaves the address alone.
    refreshed = client.get(reverse("recommendations"), {"genre": "drama"}, HTTP_HX_REQUEST="true")
    assert "HX-Push-Url" not in refreshed
    # And the address, opened again, is that shelf.
    page = client.get("/?n=10&genre=drama")
    assert 'data-refresh="/recommendations/?n=10&amp;genre=drama"' in page.text
