import pytest
from django.db import IntegrityError, transaction

from catalog.models import Movie
from ratings.models import Rating


@pytest.fixture
def movie(db):
    return Movie.objects.create(title="The Silent Harbor", year=1994)


@pytest.mark.parametrize("value", [0, 6, 100])
def test_database_refuses_rating_outside_1_to_5(member, movie, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(user=member, movie=movie, value=value)
    assert not Rating.objects.exists()


@pytest.mark.parametrize("value", [1, 5])
def test_database_accepts_ratings_at_the_bounds(member, movie, value):
    Rating.objects.create(user=member, movie=movie, value=value)
    assert Rating.objects.get().value == value


def test_database_refuses_second_rating_of_same_movie_by_same_user(member, movie):
    Rating.objects.create(user=member, movie=movie, value=4)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(user=member, movie=movie, value=2)
    assert list(Rating.objects.values_list("value", flat=True)) == [4]


def test_database_refuses_rating_outside_range_written_with_update(member, movie):
    rating = Rating.objects.create(user=member, movie=movie, value=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.filter(pk=rating.pk).update(value=0)
    rating.refresh_from_db()
    assert rating.value == 3


def test_movie_counts_follow_every_write(member, movie, django_user_model):
    from ratings.services import rating_remove, rating_set

    other = django_user_model.objects.create_user(username="bob", password="x", age=40)

    def counts():
        movie.refresh_from_db()
        return movie.rating_count, movie.rating_sum, movie.liked_count

    rating_set(user=member, movie=movie, value=5)
    assert counts() == (1, 5, 1)
    rating_set(user=other, movie=movie, value=2)
    assert counts() == (2, 7, 1)
    rating_set(user=member, movie=movie, value=3)
    assert counts() == (2, 5, 0)
    rating_remove(user=other, movie=movie)
    assert counts() == (1, 3, 0)
    rating_remove(user=other, movie=movie)  # nothing to remove: nothing moves
    assert counts() == (1, 3, 0)
