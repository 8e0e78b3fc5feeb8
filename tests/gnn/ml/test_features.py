"""Model inputs from demographics and movie facts: what unknown values become,
and a state that survives JSON."""

import json

import numpy as np
import pytest

from gnn.ml.data import Movies, Users
from gnn.ml.features import GENDERS, OCCUPATIONS, ZIP_REGIONS, Preprocessor, zip_region


def _users(**columns) -> Users:
    base = {
        "ids": np.array([1, 2, 3]),
        "age": np.array([20.0, 40.0, 60.0]),
        "gender": ["M", "F", "O"],
        "occupation": ["writer", "student", "doctor"],
        "zip_code": ["10001", "94110", "K1A 0B1"],
    }
    return Users(**{**base, **columns})


def _movies() -> Movies:
    genres = np.zeros((3, 19), dtype=np.float32)
    genres[0, 1] = genres[1, 5] = genres[2, [1, 5]] = 1.0
    return Movies(
        ids=np.array([10, 11, 12]), year=np.array([1980.0, 2000.0, np.nan]), genres=genres
    )


@pytest.fixture
def preprocessor():
    return Preprocessor.fit(_users(), _movies(), use_zip=True)


@pytest.mark.parametrize(
    ("code", "region"), [("10001", "1"), ("94110", "9"), ("K1A 0B1", "X"), ("", "X"), (None, "X")]
)
def test_a_zip_code_maps_to_its_first_digit_or_to_x(code, region):
    assert zip_region(code) == region


def test_user_features_are_scaled_age_then_one_hot_vocabularies(preprocessor):
    x = preprocessor.user_features(_users())
    assert x.shape == (3, 1 + len(GENDERS) + len(OCCUPATIONS) + len(ZIP_REGIONS))
    assert x.dtype == np.float32
    # Age is standardised on the fitted members: the middle one is 0.
    assert x[1, 0] == pytest.approx(0.0) and x[0, 0] == pytest.approx(-x[2, 0])
    assert x[:, 1 : 1 + len(GENDERS)].sum(axis=1).tolist() == [1.0, 1.0, 1.0]


def test_unknown_values_never_raise_they_become_the_fallbacks(preprocessor):
    stranger = _users(
        ids=np.array([9]),
        age=np.array([np.nan]),
        gender=["?"],
        occupation=["astronaut"],
        zip_code=["n/a"],
    )
    x = preprocessor.user_features(stranger)[0]
    assert x[0] == pytest.approx(0.0)  # a missing age is the mean age
    genders = x[1 : 1 + len(GENDERS)]
    occupations = x[1 + len(GENDERS) : 1 + len(GENDERS) + len(OCCUPATIONS)]
    assert not genders.any() and not occupations.any()  # all-zero one-hots
    assert x[-1] == 1.0  # the region "X"


def test_a_missing_year_is_flagged_and_scaled_to_zero(preprocessor):
    x = preprocessor.movie_features(_movies())
    assert x.shape == (3, 2 + 19)
    assert x[2, :2].tolist() == [0.0, 1.0]
    assert x[0, 1] == 0.0 and x[0, 0] < 0 < x[1, 0]
    assert x[2, 2 + 1] == x[2, 2 + 5] == 1.0


def test_movies_the_model_never_saw_have_no_embedding_row(preprocessor):
    assert preprocessor.movie_rows([12, 10, 999]).tolist() == [2, 0, -1]
    assert preprocessor.n_known_movies == 3


def test_the_state_survives_json_and_gives_the_same_features(preprocessor):
    again = Preprocessor(json.loads(json.dumps(preprocessor.state)))
    np.testing.assert_array_equal(
        again.user_features(_users()), preprocessor.user_features(_users())
    )
    np.testing.assert_array_equal(
        again.movie_features(_movies()), preprocessor.movie_features(_movies())
    )


def test_a_state_of_another_version_is_refused(preprocessor):
    with pytest.raises(ValueError, match="preprocessor state version"):
        Preprocessor({**preprocessor.state, "state_version": 99})


def test_without_zip_regions_there_are_no_region_columns():
    plain = Preprocessor.fit(_users(), _movies(), use_zip=False)
    assert plain.n_user_features == 1 + len(GENDERS) + len(OCCUPATIONS)
