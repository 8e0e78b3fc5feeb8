import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import ApiToken
from catalog.models import Movie
from ratings.models import Dismissal, NotSeen, Rating, WatchlistItem
from tests.conftest import MEMBER_PASSWORD, fill_member

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


def test_a_newcomer_may_prefer_not_to_say_their_gender_and_still_gets_a_list(
    client, trained, settings
):
    form = client.get(reverse("accounts:signup")).text
    assert '<option value="N">Prefer not to say</option>' in form
    assert "from your age and occupation alone" in form
    client.post(reverse("accounts:signup"), {**GOOD_SIGNUP, "gender": "N"})
    user = User.objects.get(username="newcomer")
    assert user.gender == "N"  # its own value, not "Other"
    home = client.get(reverse("home"))
    assert len(home.context["recommendations"].items) == 10
    profile = client.get(reverse("accounts:profile")).text
    assert '<option value="N" selected>Prefer not to say</option>' in profile


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


def test_deleting_asks_for_the_password_and_keeps_movie_statistics_right(
    client, django_user_model, seeded
):
    member = django_user_model.objects.create_user(
        username="leaving", password=MEMBER_PASSWORD, age=40, gender="M", occupation="writer"
    )
    movies = fill_member(member)
    rated = Movie.objects.get(pk=movies[0].pk)
    before = (rated.rating_count, rated.rating_sum, rated.liked_count)
    client.force_login(member)
    assert client.get(reverse("accounts:delete")).status_code == 200

    wrong = client.post(reverse("accounts:delete"), {"password": "not it"})
    assert wrong.status_code == 400 and "That is not your password" in wrong.text
    empty = client.post(reverse("accounts:delete"), {})
    assert empty.status_code == 400
    assert User.objects.filter(pk=member.pk).exists()

    done = client.post(reverse("accounts:delete"), {"password": MEMBER_PASSWORD}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("home")
    assert "are deleted" in done.text and not done.context["user"].is_authenticated
    assert not User.objects.filter(username="leaving").exists()
    for model in (Rating, Dismissal, WatchlistItem, NotSeen, ApiToken):
        assert not model.objects.filter(user_id=member.pk).exists()
    rated.refresh_from_db()
    assert (rated.rating_count, rated.rating_sum, rated.liked_count) == (
        before[0] - 1,
        before[1] - 5,
        before[2] - 1,
    )
    assert client.get(reverse("accounts:profile")).status_code == 302
