"""What other apps read of the ratings app: a member's ratings and marks, the
rating stream the model snapshots, and the summaries the pages show."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from catalog.models import Genre, Movie
from ratings import selectors
from ratings.models import Rating
from ratings.services import dismissal_add, not_seen_add, rating_set, watchlist_add


@pytest.fixture
def films(db):
    drama = Genre.objects.get(name="Drama")
    comedy = Genre.objects.get(name="Comedy")
    made = [Movie.objects.create(title=f"Film {i}", year=1990 + i) for i in range(5)]
    for movie in made[:3]:
        movie.genres.add(drama)
    for movie in made[2:]:
        movie.genres.add(comedy)
    return made


def test_a_members_ratings_of_listed_movies_in_one_query(member, films, django_assert_num_queries):
    rating_set(user=member, movie=films[0], value=5)
    rating_set(user=member, movie=films[1], value=2)
    with django_assert_num_queries(1):
        mine = selectors.ratings_of_movies(user=member, movie_ids=[f.pk for f in films[1:]])
    assert mine == {films[1].pk: 2}
    assert selectors.ratings_of_movies(user=AnonymousUser(), movie_ids=[films[0].pk]) == {}


def test_a_members_marks_are_read_separately_and_only_theirs(member, films, django_user_model):
    other = django_user_model.objects.create_user(username="bob", password="x" * 12)
    dismissal_add(user=member, movie=films[0])
    watchlist_add(user=member, movie=films[1])
    not_seen_add(user=member, movie=films[2])
    dismissal_add(user=other, movie=films[3])

    assert selectors.dismissed_movie_ids(user=member) == {films[0].pk}
    assert selectors.watchlist_movie_ids(user=member) == {films[1].pk}
    assert selectors.watchlist_movie_ids(user=member, movie_ids=[films[0].pk]) == set()
    assert selectors.not_seen_movie_ids(user=member) == {films[2].pk}
    assert selectors.watchlist_movie_ids(user=AnonymousUser()) == set()


def test_the_watchlist_is_newest_first_and_leaves_out_hidden_movies(member, films):
    for movie in films[:3]:
        watchlist_add(user=member, movie=movie)
    Movie.objects.filter(pk=films[1].pk).update(is_visible=False)
    assert [item.movie for item in selectors.watchlist_of(user=member)] == [films[2], films[0]]


def test_ratings_written_since_a_moment_are_counted_up_to_a_limit(member, films):
    before = timezone.now() - timedelta(seconds=1)
    for movie in films[:4]:
        rating_set(user=member, movie=movie, value=4)
    assert selectors.ratings_written_since(since=None) == 4
    assert selectors.ratings_written_since(since=before) == 4
    assert selectors.ratings_written_since(since=before, limit=2) == 2
    assert selectors.ratings_written_since(since=timezone.now()) == 0


def test_the_rating_stream_is_every_rating_oldest_first(member, films, django_user_model):
    other = django_user_model.objects.create_user(username="bob", password="x" * 12)
    rating_set(user=member, movie=films[0], value=5)
    rating_set(user=other, movie=films[1], value=1)
    Rating.objects.filter(user=member).update(created_at=timezone.now() + timedelta(hours=1))
    rows = selectors.rating_rows_in_time_order()
    assert rows.tolist() == [[other.pk, films[1].pk, 1], [member.pk, films[0].pk, 5]]
    assert rows.dtype.kind == "i"
    # Read a row or a few bytes at a time, the blocks join up to the same rows.
    tiny = selectors.rating_rows_in_time_order(block_rows=1, block_bytes=8)
    assert tiny.tolist() == rows.tolist()


def test_a_members_taste_is_their_histogram_and_their_most_liked_genres(member, films):
    for movie, value in zip(films, (5, 4, 4, 1, 5), strict=True):
        rating_set(user=member, movie=movie, value=value)
    taste = selectors.taste_summary(user=member)
    assert taste["total"] == 5
    assert [(value, count) for value, count, _ in taste["histogram"]] == [
        (5, 2), (4, 2), (3, 0), (2, 0), (1, 1),
    ]  # fmt: skip
    drama, comedy = taste["favourite_genres"]
    assert (drama["name"], drama["liked"], drama["rated"]) == ("Drama", 3, 3)
    assert (comedy["name"], comedy["liked"], comedy["rated"]) == ("Comedy", 2, 3)


def test_the_site_stats_count_every_rating_and_are_kept_a_minute(member, films):
    rating_set(user=member, movie=films[0], value=5)
    rating_set(user=member, movie=films[2], value=3)
    stats = selectors.site_rating_stats()
    assert (stats["count"], stats["mean"]) == (2, 4.0)
    assert stats["distribution"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    assert {g["genre"]: g["count"] for g in stats["genres"]} == {"Drama": 2, "Comedy": 1}
    rating_set(user=member, movie=films[1], value=1)
    assert selectors.site_rating_stats()["count"] == 2  # the cached figures, for a minute


def test_a_members_data_holds_their_ratings_and_every_mark(member, films):
    rating_set(user=member, movie=films[0], value=4)
    dismissal_add(user=member, movie=films[1])
    watchlist_add(user=member, movie=films[2])
    not_seen_add(user=member, movie=films[3])
    data = selectors.member_ratings_data(user=member)
    assert [(r["movie_id"], r["value"]) for r in data["ratings"]] == [(films[0].pk, 4)]
    assert [d["title"] for d in data["dismissals"]] == ["Film 1"]
    assert [w["movie_id"] for w in data["watchlist"]] == [films[2].pk]
    assert [n["movie_id"] for n in data["not_seen"]] == [films[3].pk]
    assert all("created_at" in row for rows in data.values() for row in rows)
