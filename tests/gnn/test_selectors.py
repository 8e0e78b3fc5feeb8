"""Recommendations and similar movies, as views and the API read them."""

import time

import numpy as np
import pytest

from catalog.models import Movie
from gnn.bridge.serving import get_service
from gnn.selectors import (
    SIMILAR,
    ListQuery,
    RecommendationError,
    list_query,
    movies_similar_to,
    recommendations_for,
    served_model,
)
from gnn.services import recommendations_refresh
from ratings.services import dismissal_add, rating_remove, rating_set


def ids(recommendations):
    return [item.movie.pk for item in recommendations.items]


def fresh(user):
    user.refresh_from_db()
    return user


def test_a_new_member_gets_demographic_recommendations_from_the_model(trained, member):
    result = recommendations_for(user=member, query=ListQuery(n=10))

    assert result.source == "model"
    assert result.model_version == trained
    assert result.from_demographics_only
    assert len(result.items) == 10
    assert all(1 <= item.predicted_rating <= 5 for item in result.items)
    assert all(item.because is None for item in result.items)


def test_the_match_shown_follows_the_lists_order(trained, member, django_user_model):
    """A figure that reads as "better" never sits below a worse one."""
    from catalog.models import Movie

    for movie in Movie.objects.order_by("-rating_count")[:8]:
        rating_set(user=member, movie=movie, value=5 if movie.pk % 2 else 2)
    for query in (ListQuery(n=20), list_query(n=10, genre="drama")):
        matches = [
            item.match for item in recommendations_for(user=fresh(member), query=query).items
        ]
        assert matches and all(0 <= m <= 100 for m in matches)
        assert matches == sorted(matches, reverse=True)
    top = recommendations_for(user=fresh(member), query=ListQuery(n=1)).items[0]
    assert top.match >= 90  # the best of some 50 movies left


def test_a_rating_saved_a_moment_ago_changes_the_next_result(trained, member):
    before = recommendations_for(user=member, query=ListQuery(n=10))
    liked = before.items[0].movie
    rating_set(user=member, movie=liked, value=5)

    after = recommendations_for(user=fresh(member), query=ListQuery(n=10))

    assert not after.cached
    assert after.rating_count == 1
    assert liked.pk not in ids(after)
    # The rating moved the scores at once (no retraining); a reason, where
    # one is strong enough to show, can only be that rating.
    scores = {item.movie.pk: item.score for item in before.items}
    assert any(
        abs(scores[i.movie.pk] - i.score) > 1e-6 for i in after.items if i.movie.pk in scores
    )
    assert all(item.because in (None, liked) for item in after.items)


def test_a_cached_result_is_not_served_after_a_rating_change(trained, member):
    movie = Movie.objects.first()
    recommendations_for(user=member)
    assert recommendations_for(user=member).cached

    rating_set(user=member, movie=movie, value=1)
    assert not recommendations_for(user=fresh(member)).cached

    rating_remove(user=member, movie=movie)
    result = recommendations_for(user=fresh(member))
    assert not result.cached
    assert result.rating_count == 0


def test_refresh_drops_the_cached_result(trained, member):
    recommendations_for(user=member)
    recommendations_refresh(user=member)
    assert not recommendations_for(user=member).cached
    # Another process reading the member afresh finds the new list kept.
    assert recommendations_for(user=fresh(member)).cached


def test_rated_dismissed_and_hidden_movies_are_never_returned(
    trained_committed, member, instant_checks
):
    first = recommendations_for(user=member, query=ListQuery(n=30))
    rated, dismissed, hidden = (item.movie for item in first.items[:3])
    rating_set(user=member, movie=rated, value=4)
    dismissal_add(user=member, movie=dismissed)
    Movie.objects.filter(pk=hidden.pk).update(is_visible=False)
    time.sleep(0.05)
    recommendations_for(user=member)  # the service notices the catalogue change
    get_service().wait_for_reload()

    result = recommendations_for(user=fresh(member), query=ListQuery(n=57))

    returned = set(ids(result))
    assert not returned & {rated.pk, dismissed.pk, hidden.pk}
    assert len(returned) == len(result.items) == 57  # 60 movies minus those three


def test_rated_movies_can_be_included_when_asked(trained, member):
    movie = recommendations_for(user=member).items[0].movie
    rating_set(user=member, movie=movie, value=5)
    everything = recommendations_for(user=fresh(member), query=ListQuery(n=60, exclude_rated=False))
    assert movie.pk in ids(everything)


@pytest.mark.parametrize("n", [1, 7, 20])
def test_n_is_honoured(trained, member, n):
    assert len(recommendations_for(user=member, query=ListQuery(n=n)).items) == n


@pytest.mark.parametrize("n", [0, -3, 101, "10", 2.5, True])
def test_n_out_of_range_is_rejected_clearly(trained, member, n):
    with pytest.raises(RecommendationError, match="n must be a whole number from 1 to 100"):
        recommendations_for(user=member, query=ListQuery(n=n))


def test_explanations_point_at_a_movie_the_member_liked(trained, member):
    liked = list(Movie.objects.order_by("-rating_count")[:3])
    for movie in liked:
        rating_set(user=member, movie=movie, value=5)
    result = recommendations_for(user=fresh(member))
    # Only strong reasons are shown (the next test); those shown are likes.
    assert result.items and all(item.because in (None, *liked) for item in result.items)


def test_similar_movies_come_from_the_embeddings(trained):
    movie = Movie.objects.order_by("-rating_count").first()
    similar = movies_similar_to(movie=movie)
    assert len(similar) == SIMILAR
    assert movie not in similar


def test_without_a_model_recommendations_fall_back_to_popularity(seeded, member):
    result = recommendations_for(user=member)
    assert result.source == "popularity"
    assert result.model_version is None
    liked = [item.movie.liked_count for item in result.items]
    assert liked == sorted(liked, reverse=True)
    assert served_model() is None


def _profile(django_user_model, name, age, gender, occupation):
    return django_user_model.objects.create_user(
        username=name, password="correct horse battery", age=age, gender=gender,
        occupation=occupation,
    )  # fmt: skip


def test_identical_profiles_get_identical_lists(trained, django_user_model):
    first = _profile(django_user_model, "teen", 15, "M", "student")
    second = _profile(django_user_model, "twin", 15, "M", "student")

    assert ids(recommendations_for(user=second, query=ListQuery(n=10))) == ids(
        recommendations_for(user=first, query=ListQuery(n=10))
    )


@pytest.mark.xfail(
    strict=False,
    reason=(
        "not reached on every backend (at most 5 of 10 shared): the model trained on the "
        "fixture's SQLite snapshot reaches it, the one trained on PostgreSQL's (ratings in "
        "another order of equal moments) shares more"
    ),
)
def test_new_members_of_very_different_ages_get_clearly_different_lists(trained, django_user_model):
    # The fixtures' young members like action and sci-fi, the older ones drama
    # and romance: a newcomer's list from the profile alone should show it.
    teen = _profile(django_user_model, "teen", 15, "M", "student")
    elder = _profile(django_user_model, "elder", 70, "F", "retired")

    teen_list = ids(recommendations_for(user=teen, query=ListQuery(n=10)))
    elder_list = ids(recommendations_for(user=elder, query=ListQuery(n=10)))

    assert len(set(teen_list) & set(elder_list)) <= 5, (teen_list, elder_list)


def test_a_reason_is_shown_only_when_it_shares_a_genre_and_is_close(trained, member):
    from gnn.bridge.engine import STRONG_BECAUSE
    from gnn.selectors import _engine

    engine = _engine()
    liked = Movie.objects.get(movielens_id=1)
    rows = np.arange(len(engine.movie_ids))
    because = engine._because(rows, [(liked.pk, 5)])
    genres = set(liked.genres.values_list("pk", flat=True))
    similarity = engine.unit_embeddings @ engine.unit_embeddings[engine.movie_row[liked.pk]]
    shown = 0
    for row, reason in enumerate(because):
        movie = Movie.objects.get(pk=int(engine.movie_ids[row]))
        strong = similarity[row] >= STRONG_BECAUSE and genres & {g.pk for g in movie.genres.all()}
        assert (reason == liked.pk) == bool(strong), (movie, similarity[row])
        shown += reason is not None
    assert 0 < shown < len(rows)  # some movies get the reason, some do not


@pytest.mark.parametrize(
    ("age", "gender", "label"),
    [
        (15, "M", "men in their teens"),
        (34, "F", "women in their 30s"),
        (68, "F", "women over 60"),
        (41, "N", "people in their 40s"),  # not said: no gender named
        (None, "M", ""),
    ],
)
def test_a_profile_only_reason_names_the_members_group(age, gender, label):
    from types import SimpleNamespace

    from gnn.selectors import group_label

    assert group_label(SimpleNamespace(age=age, gender=gender)) == label


def test_a_movie_page_says_how_it_suits_the_member_and_why(client, trained, member):
    from django.urls import reverse

    liked = Movie.objects.order_by("-rating_count")[0]
    rating_set(user=member, movie=liked, value=5)
    client.force_login(member)
    other = Movie.objects.order_by("-rating_count")[1]
    page = client.get(reverse("catalog:detail", args=[other.pk]))
    fit = page.context["fit"]
    assert 0 <= fit.match <= 100 and 1 <= fit.predicted_rating <= 5
    assert fit.because in (None, liked)
    assert f"Match <strong>{fit.match}%</strong>" in page.text
    # Not for a movie the member rated: their own rating says it.
    assert client.get(reverse("catalog:detail", args=[liked.pk])).context["fit"] is None
    client.logout()
    assert client.get(reverse("catalog:detail", args=[other.pk])).context["fit"] is None
