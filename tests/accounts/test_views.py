import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from catalog.models import Movie
from ratings.models import Rating
from ratings.services import rating_set

User = get_user_model()

GOOD_SIGNUP = {
    "username": "newcomer",
    "password1": "a long enough passphrase",
    "password2": "a long enough passphrase",
    "age": "29",
    "gender": "F",
    "occupation": "engineer",
    "zip_code": "94110",
}


def test_sign_up_logs_in_and_lands_on_the_onboarding_page(client, seeded):
    response = client.post(reverse("accounts:signup"), GOOD_SIGNUP, follow=True)

    user = User.objects.get(username="newcomer")
    assert (user.age, user.gender, user.occupation, user.zip_code) == (29, "F", "engineer", "94110")
    assert user.source == "signup"
    assert response.redirect_chain[-1][0] == reverse("onboarding")
    assert response.context["user"] == user
    assert "Rate a few movies you have seen" in response.text
    assert "Skip for now" in response.text


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"age": "0"}, "age", "greater than or equal to 1"),
        ({"age": "121"}, "age", "less than or equal to 120"),
        ({"age": "old"}, "age", "Enter a whole number"),
        ({"gender": "X"}, "gender", "Select a valid choice"),
        ({"occupation": ""}, "occupation", "This field is required"),
        ({"occupation": "astronaut"}, "occupation", "Select a valid choice"),
        ({"zip_code": "<script>"}, "zip_code", "letters, digits, spaces or hyphens"),
        ({"password2": "something else"}, "password2", "didn"),
        ({"username": "movielens-5"}, "username", "reserved"),
    ],
)
def test_sign_up_shows_per_field_errors_and_creates_nobody(client, db, change, field, message):
    response = client.post(reverse("accounts:signup"), {**GOOD_SIGNUP, **change})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert f'id="id_{field}_error"' in response.text
    assert not User.objects.filter(username=GOOD_SIGNUP["username"]).exists()


def test_sign_up_refuses_a_taken_username(client, member):
    response = client.post(reverse("accounts:signup"), {**GOOD_SIGNUP, "username": "alice"})
    assert "already exists" in " ".join(response.context["form"].errors["username"])


def test_log_in_and_out(client, member):
    response = client.post(
        reverse("accounts:login"), {"username": "alice", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert client.get(reverse("home")).context["user"] == member
    client.post(reverse("accounts:logout"))
    assert not client.get(reverse("home")).context["user"].is_authenticated


def test_log_in_with_a_wrong_password_says_so(client, member):
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": "nope"})
    assert "Please enter a correct username and password" in response.text


def test_profile_edits_demographics_and_changes_the_taste_version(client, member):
    client.force_login(member)
    before = member.taste_version
    response = client.post(
        reverse("accounts:profile"),
        {"age": "45", "gender": "O", "occupation": "librarian", "zip_code": "10001"},
        follow=True,
    )
    member.refresh_from_db()
    assert (member.age, member.gender, member.occupation) == (45, "O", "librarian")
    assert member.taste_version > before
    assert "Profile saved" in response.text


def test_profile_with_bad_input_changes_nothing(client, member):
    client.force_login(member)
    response = client.post(
        reverse("accounts:profile"), {"age": "500", "gender": "F", "occupation": "writer"}
    )
    member.refresh_from_db()
    assert member.age == 31
    assert "less than or equal to 120" in response.text


def test_profile_and_history_need_a_login(client, db):
    for name in ("accounts:profile", "accounts:history"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def _rate_many(user, count):
    movies = list(Movie.objects.order_by("pk")[:count])
    for value, movie in enumerate(movies):
        rating_set(user=user, movie=movie, value=value % 5 + 1)
    return movies


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
