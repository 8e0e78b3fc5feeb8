"""Test settings: the real settings with only what tests need changed."""

import os
import tempfile

# Tests never run with a production secret; give them a fixed one so the real
# settings (which refuse to start without SECRET_KEY when DEBUG is off) load.
os.environ.setdefault("SECRET_KEY", "test-only-secret-key")

from recommender.settings import *  # noqa: F403
from recommender.settings import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "tests",
    }
}

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory: the Celery worker the tests start in another
    # process must see the same test database.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("TEST_DATABASE_NAME", str(BASE_DIR / "data" / "test-db.sqlite3"))  # noqa: F405
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Several test processes (CI runs SQLite and PostgreSQL suites) must not
    # share one test database.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get(
        "TEST_DATABASE_NAME", "test_recommender"
    )

# Posters go to a folder of this run's own (CI runs two suites side by side);
# the environment carries it to the Celery worker the tests start.
MEDIA_ROOT = Path(  # noqa: F405
    os.environ.setdefault("TEST_MEDIA_ROOT", tempfile.mkdtemp(prefix="reel-test-media-"))
)

# Static files straight from the finders: no collectstatic before a test run.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True

# One thread: the suite shares two cores with the live server, a Celery worker
# and Chromium, and oversubscribed OpenMP threads spin instead of working.
TORCH_THREADS_TRAINING = 1

# Tasks that tests enqueue without a broker of their own stay in this process
# (the default filesystem broker would leave them in the developer's data/
# for the next `make run` worker). Tests about a broker set up a real one.
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
# Tests that rate and expect a retrain look at every rating, as before.
RETRAIN_CHECK_EVERY_RATINGS = 1
