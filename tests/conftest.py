import shutil
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command

from accounts.services import api_token_create
from gnn.bridge.state import process_state

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SYNTHETIC = FIXTURES / "ml-synthetic"


@pytest.fixture
def synthetic_dir(tmp_path) -> Path:
    """A private copy of the synthetic dataset that a test may damage."""
    copy = tmp_path / "ml-synthetic"
    shutil.copytree(SYNTHETIC, copy)
    return copy


@pytest.fixture(autouse=True)
def _isolated_dirs(settings, tmp_path):
    """Nothing a test does lands in the developer's data/ or models/, and no
    test sees another's served model or cached recommendations."""
    settings.DATA_DIR = tmp_path / "data"
    settings.MODELS_DIR = tmp_path / "models"
    settings.MEDIA_ROOT = tmp_path / "media"
    process_state.reset()
    cache.clear()
    yield
    process_state.reset()


@pytest.fixture
def seeded(db):
    """The synthetic dataset imported into the test database."""
    call_command("seed_movielens", source=str(SYNTHETIC), stdout=_Null(), stderr=_Null())


@pytest.fixture
def seeded_committed(transactional_db):
    """The synthetic dataset, committed: other threads and processes see it."""
    call_command("seed_movielens", source=str(SYNTHETIC), stdout=_Null(), stderr=_Null())


def serving() -> str | None:
    """The version `current` points at, as the registry says."""
    from django.conf import settings

    from gnn.bridge import registry

    served = registry.served_versions(settings.MODELS_DIR)
    return served[0] if served else None


def train_quickly(**options) -> str:
    """Train and publish a small model on whatever the database holds; the
    version it published (served unless ``no_activate``)."""
    from gnn.models import TrainingRun

    call_command("train_model", epochs=30, verbosity=0, **options)
    return TrainingRun.objects.latest("pk").published.version


@pytest.fixture
def trained(seeded):
    """A model trained on the fixtures and serving; returns its version."""
    return train_quickly()


@pytest.fixture
def trained_committed(seeded_committed):
    return train_quickly()


@pytest.fixture
def instant_checks(settings):
    """Web processes look for a new version, refresh or catalogue every 20 ms."""
    settings.MODEL_CHECK_INTERVAL = 0.02


class _Null:
    def write(self, *_args, **_kwargs):
        pass

    def flush(self):
        pass


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user(
        username="alice", password="correct horse battery", age=31, gender="F", occupation="writer"
    )


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="curator", password="correct horse battery", is_staff=True, is_superuser=True
    )


@pytest.fixture
def token(member):
    return api_token_create(user=member)


@pytest.fixture
def auth(token):
    """Headers for the API as the member."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def staff_auth(staff):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=staff)}"}


MEMBER_PASSWORD = "a long enough passphrase"


def fill_member(member):
    """A rating of 5 and of 2, a dismissal, a watchlist item, a "haven't seen it"
    and an API token: everything the site keeps about a member."""
    from accounts.services import api_token_create
    from catalog.models import Movie
    from ratings.services import dismissal_add, not_seen_add, rating_set, watchlist_add

    movies = list(Movie.objects.order_by("pk")[:6])
    rating_set(user=member, movie=movies[0], value=5)
    rating_set(user=member, movie=movies[1], value=2)
    dismissal_add(user=member, movie=movies[2])
    watchlist_add(user=member, movie=movies[3])
    not_seen_add(user=member, movie=movies[4])
    api_token_create(user=member)
    return movies
