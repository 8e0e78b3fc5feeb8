"""Settings read from the environment, production checks and headers."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path, **extra) -> dict:
    """The environment of a production process (DEBUG off, HTTPS), in ``tmp_path``."""
    dropped = ("DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        DJANGO_SETTINGS_MODULE="recommender.settings",
        DEBUG="false",
        HTTPS="true",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="reel.example,127.0.0.1",
        DATA_DIR=str(tmp_path / "data"),
        MODELS_DIR=str(tmp_path / "models"),
        STATIC_ROOT=str(tmp_path / "static"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    )
    env.update(extra)
    return env


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def load_settings(**variables):
    """Import the real settings in a fresh interpreter with these variables."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    environment.update(variables)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import recommender.settings as s; print(s.DATABASES['default']['ENGINE'])",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )


def test_settings_refuse_to_start_without_secret_key_when_debug_is_off():
    result = load_settings(DEBUG="false", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_settings_refuse_an_unsupported_database():
    result = load_settings(SECRET_KEY="x", DATABASE_URL="mysql://root@127.0.0.1/test")
    assert result.returncode != 0
    assert "only SQLite and PostgreSQL are supported" in result.stderr


def test_settings_refuse_a_non_boolean_debug():
    result = load_settings(DEBUG="maybe", SECRET_KEY="x")
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_settings_default_to_sqlite_with_wal_and_immediate_transactions(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import recommender.settings as s; d = s.DATABASES['default']; o = d['OPTIONS'];"
            "print(d['ENGINE'], o['transaction_mode'], 'WAL' in o['init_command'])",
        ],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "x", "DATABASE_URL": "", "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.stdout.split() == ["core.db.sqlite3", "IMMEDIATE", "True"]


def test_pages_send_a_content_security_policy(client, db):
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_every_answer_carries_the_policy_and_a_changed_setting_is_followed(client, db, settings):
    page, api = client.get("/")["Content-Security-Policy"], client.get("/api/health")
    assert api["Content-Security-Policy"] == page
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert client.get("/")["Content-Security-Policy"] == "default-src 'none'"
