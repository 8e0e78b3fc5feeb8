"""The SQLite backend's connection settings."""

import pytest


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
