"""The onboarding page: movies to rate after sign-up, answered one by one."""

import pytest
from django.urls import reverse

from catalog.models import Movie
from catalog.services import movie_hide
from ratings.models import NotSeen, Rating
from ratings.services import dismissal_add, rating_set

HTMX = {"HTTP_HX_REQUEST": "true"}


def asked(response) -> list[Movie]:
    return list(response.context["movies"])


@pytest.fixture
def newcomer(client, member):
    client.force_login(member)
    return member


def test_sign_up_leads_to_the_onboarding_page(client, seeded):
    response = client.post(
        reverse("accounts:signup"),
        {
            "username": "fresh",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
            "age": 30,
            "gender": "F",
            "occupation": "writer",
            "zip_code": "",
        },
    )
    assert response.status_code == 302 and response.url == reverse("onboarding")
    page = client.get(response.url)
    assert len(asked(page)) == 10
    assert "0 of 5: your list gets sharper with each" in page.text
    assert "Skip for now" in page.text


def test_the_chooser_asks_well_known_movies_from_the_served_model(client, newcomer, trained):
    movies = asked(client.get(reverse("onboarding")))
    assert len(movies) == len({m.pk for m in movies}) == 10
    ranks = list(Movie.objects.visible().order_by("-rating_count").values_list("pk", flat=True))
    assert all(ranks.index(m.pk) < 300 for m in movies)
    assert client.get(reverse("onboarding")).context["chosen"] is True


def test_a_rating_replaces_the_movie_and_the_others_stay_put(client, newcomer, trained):
    movies = asked(client.get(reverse("onboarding")))
    shown = [m.pk for m in movies]
    response = client.post(
        reverse("onboarding_answer", args=[shown[0]]), {"value": 4, "shown": shown}, **HTMX
    )
    assert response.status_code == 200
    assert Rating.objects.get(user=newcomer, movie_id=shown[0]).value == 4
    after = [m.pk for m in asked(response)]
    assert shown[0] not in after and after[:9] == shown[1:] and len(after) == 10
    assert "1 of 5" in response.text


def test_havent_seen_is_stored_not_asked_again_and_leaves_the_taste_alone(
    client, newcomer, trained
):
    shown = [m.pk for m in asked(client.get(reverse("onboarding")))]
    version = newcomer.taste_version
    response = client.post(
        reverse("onboarding_answer", args=[shown[3]]), {"unseen": "1", "shown": shown}, **HTMX
    )
    assert NotSeen.objects.filter(user=newcomer, movie_id=shown[3]).exists()
    assert not Rating.objects.filter(user=newcomer).exists()
    newcomer.refresh_from_db()
    assert newcomer.taste_version == version
    assert shown[3] not in [m.pk for m in asked(response)]
    assert "0 of 5" in response.text
    # Nor on a fresh visit, nor a rated or dismissed movie.
    rating_set(user=newcomer, movie=Movie.objects.get(pk=shown[4]), value=2)
    dismissal_add(user=newcomer, movie=Movie.objects.get(pk=shown[5]))
    again = [m.pk for m in asked(client.get(reverse("onboarding")))]
    assert not {shown[3], shown[4], shown[5]} & set(again)
    assert len(again) == 10


def test_a_bad_rating_is_refused_with_a_message_and_changes_nothing(client, newcomer, trained):
    shown = [m.pk for m in asked(client.get(reverse("onboarding")))]
    for value in ("9", "", "x", "3.5"):
        response = client.post(
            reverse("onboarding_answer", args=[shown[0]]), {"value": value, "shown": shown}, **HTMX
        )
        assert response.status_code == 422
        assert "A rating must be a whole number from 1 to 5." in response.text
        assert asked(response)[0].pk == shown[0]  # still asked, in its place
    assert not Rating.objects.filter(user=newcomer).exists()
    assert not NotSeen.objects.filter(user=newcomer).exists()


def test_without_javascript_an_answer_comes_back_to_the_page(client, newcomer, trained):
    shown = [m.pk for m in asked(client.get(reverse("onboarding")))]
    response = client.post(
        reverse("onboarding_answer", args=[shown[2]]), {"value": 5, "shown": shown}
    )
    assert response.status_code == 302
    page = client.get(response.url)
    after = [m.pk for m in asked(page)]
    assert shown[2] not in after and after[:9] == shown[:2] + shown[3:]
    bad = client.post(reverse("onboarding_answer", args=[shown[0]]), {"value": "0"}, follow=True)
    assert "A rating must be a whole number from 1 to 5." in bad.text


def test_hostile_input_is_ignored_or_refused(client, newcomer, trained):
    hidden = Movie.objects.order_by("-rating_count").first()
    movie_hide(movie=hidden)
    assert (
        client.post(reverse("onboarding_answer", args=[hidden.pk]), {"value": 3}).status_code == 404
    )
    assert (
        client.post(reverse("onboarding_answer", args=[99999999]), {"value": 3}).status_code == 404
    )
    assert client.get(reverse("onboarding_answer", args=[hidden.pk])).status_code == 405
    garbage = ["-1", "1e9", "²", "9" * 500, hidden.pk, "abc", ""]
    response = client.get(reverse("onboarding"), {"keep": garbage})
    movies = asked(response)
    assert response.status_code == 200 and len(movies) == 10
    assert hidden.pk not in [m.pk for m in movies]
    assert not Rating.objects.filter(user=newcomer).exists()
    # A NUL is refused before any view runs.
    assert client.get(reverse("onboarding"), {"keep": "\x00"}).status_code == 400


def test_visitors_are_sent_to_log_in(client, seeded):
    response = client.get(reverse("onboarding"))
    assert response.status_code == 302 and reverse("accounts:login") in response.url
    movie = Movie.objects.first()
    before = Rating.objects.count()
    response = client.post(reverse("onboarding_answer", args=[movie.pk]), {"value": 4})
    assert response.status_code == 302 and Rating.objects.count() == before


def test_without_a_model_it_asks_the_most_liked_movies(client, newcomer, seeded):
    response = client.get(reverse("onboarding"))
    movies = asked(response)
    expected = list(Movie.objects.visible().order_by("-liked_count", "-rating_count", "title")[:10])
    assert movies == expected and response.context["chosen"] is False


def test_after_five_ratings_the_page_says_the_list_is_ready(client, newcomer, trained):
    for movie in Movie.objects.visible().order_by("-rating_count")[:5]:
        rating_set(user=newcomer, movie=movie, value=4)
    response = client.get(reverse("onboarding"))
    assert "5 ratings: your list is ready" in response.text
    assert "See my recommendations" in response.text
    home = client.get(reverse("home"))
    assert "Rate more to sharpen this" in home.text
    assert "Seen any of these?" not in home.text
