"""The arrays everything in gnn.ml works on: users, movies, ratings, and the
ways a new member's first ratings are chosen."""

import numpy as np

from gnn.ml import data
from gnn.ml.data import Dataset, Movies, Ratings, Users


def _users(n: int) -> Users:
    return Users(
        ids=np.arange(100, 100 + n),
        age=np.arange(20.0, 20.0 + n),
        gender=["M", "F"] * (n // 2) + ["M"] * (n % 2),
        occupation=["writer"] * n,
        zip_code=[str(10000 + i) for i in range(n)],
    )


def _ratings(users, per_user, seed=0):
    rng = np.random.default_rng(seed)
    user = np.repeat(np.arange(users), per_user)
    movie = np.concatenate([rng.permutation(40)[:per_user] for _ in range(users)])
    return Ratings(
        user=user,
        movie=movie,
        value=rng.integers(1, 6, len(user)),
        time=rng.integers(0, 1000, len(user)),
    )


def _pairs(ratings: Ratings):
    return sorted(zip(ratings.user.tolist(), ratings.movie.tolist(), strict=True))


def test_taking_users_keeps_every_column_aligned():
    users = _users(5)
    taken = users.take([3, 0])
    assert taken.ids.tolist() == [103, 100]
    assert taken.age.tolist() == [23.0, 20.0]
    assert taken.gender == ["F", "M"] and taken.zip_code == ["10003", "10000"]


def test_a_ratings_place_in_its_users_history_counts_from_the_earliest():
    ratings = Ratings(
        user=np.array([1, 0, 1, 0, 1]),
        movie=np.array([9, 4, 2, 3, 5]),
        value=np.array([4, 4, 4, 4, 4]),
        time=np.array([30, 10, 10, 20, 10]),
    )
    # User 1 rated movies 2 and 5 at the same moment: the lower movie first.
    assert ratings.rank_in_user_history().tolist() == [2, 0, 0, 1, 1]


def test_restricting_to_users_renumbers_them_and_keeps_only_their_ratings():
    users = _users(4)
    movies = Movies(ids=np.arange(40), year=np.full(40, 1990.0), genres=np.zeros((40, 19)))
    ratings = _ratings(users=4, per_user=3)
    dataset = Dataset(users, movies, ratings, {"snapshot_at": "then"})

    kept = data.restrict_to_users(dataset, [3, 1])

    assert kept.users.ids.tolist() == [103, 101]
    assert sorted(set(kept.ratings.user.tolist())) == [0, 1]
    assert len(kept.ratings) == 6 and kept.meta == {"snapshot_at": "then"}
    theirs = ratings.take(ratings.user == 3)
    assert kept.ratings.take(kept.ratings.user == 0).movie.tolist() == theirs.movie.tolist()


def test_remapped_ratings_number_the_chosen_users_from_zero():
    ratings = _ratings(users=5, per_user=2)
    part = data.remap_users(ratings, np.array([4, 2]), 5)
    assert part.user.tolist() == [1, 1, 0, 0]  # users 2 and 4, in the order of the ratings
    assert part.movie.tolist() == ratings.take(np.isin(ratings.user, [2, 4])).movie.tolist()


def test_a_sample_of_rows_is_all_of_them_when_few_and_a_fixed_sorted_sample_when_many():
    rows = np.arange(10)
    assert data.sample_rows(rows, 20, seed=1).tolist() == rows.tolist()
    sample = data.sample_rows(np.arange(1000), 50, seed=1)
    assert len(sample) == 50 and len(set(sample.tolist())) == 50
    assert sample.tolist() == sorted(sample.tolist())
    assert sample.tolist() == data.sample_rows(np.arange(1000), 50, seed=1).tolist()
    assert sample.tolist() != data.sample_rows(np.arange(1000), 50, seed=2).tolist()


def test_five_random_ratings_are_revealed_per_user_and_the_rest_kept():
    ratings = _ratings(users=12, per_user=9)
    given, rest = data.random_k(ratings, 5)
    assert np.bincount(given.user, minlength=12).tolist() == [5] * 12
    assert np.bincount(rest.user, minlength=12).tolist() == [4] * 12
    assert not set(_pairs(given)) & set(_pairs(rest))


def test_random_ratings_are_the_same_on_two_runs_and_whatever_the_order():
    ratings = _ratings(users=12, per_user=9)
    given, _ = data.random_k(ratings, 5)
    again, _ = data.random_k(ratings, 5)
    shuffled = ratings.take(np.random.default_rng(1).permutation(len(ratings)))
    moved, _ = data.random_k(shuffled, 5)

    assert _pairs(given) == _pairs(again) == _pairs(moved)
    # Not simply the earliest five.
    earliest, _ = data.earliest(ratings, 5)
    assert _pairs(given) != _pairs(earliest)


def test_earliest_breaks_ties_in_time_by_movie():
    ratings = Ratings(
        user=np.array([0, 0, 0]),
        movie=np.array([7, 3, 5]),
        value=np.array([4, 4, 4]),
        time=np.array([10, 10, 10]),
    )
    given, rest = data.earliest(ratings, 2)
    assert sorted(given.movie.tolist()) == [3, 5]
    assert rest.movie.tolist() == [7]
