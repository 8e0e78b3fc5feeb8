import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import env

ROOT = Path(__file__).resolve().parents[2]


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


def test_int_reader_names_the_variable_and_the_problem(monkeypatch):
    monkeypatch.setenv("RETRY", "ten")
    with pytest.raises(ImproperlyConfigured, match="RETRY='ten' is not an integer"):
        env.env_int("RETRY", 3)
    monkeypatch.setenv("RETRY", "0")
    with pytest.raises(ImproperlyConfigured, match="RETRY=0 is below the minimum 1"):
        env.env_int("RETRY", 3, minimum=1)


def test_env_file_never_overrides_the_real_environment(tmp_path, monkeypatch):
    file = tmp_path / ".env"
    file.write_text("# comment\nFROM_FILE=yes\nALREADY=file\n")
    monkeypatch.setenv("ALREADY", "real")
    monkeypatch.delenv("FROM_FILE", raising=False)
    env.load_env_file(file)
    assert os.environ["FROM_FILE"] == "yes"
    assert os.environ["ALREADY"] == "real"


def test_env_file_with_a_bad_line_is_refused(tmp_path):
    file = tmp_path / ".env"
    file.write_text("JUST A SENTENCE\n")
    with pytest.raises(ImproperlyConfigured, match="expected KEY=VALUE"):
        env.load_env_file(file)


@pytest.mark.django_db
def test_sqlite_connections_use_wal_and_put_every_commit_on_disk():
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the SQLite connection settings")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous = cursor.fetchone()[0]
    assert (journal, synchronous) == ("wal", 2)  # 2 is FULL
