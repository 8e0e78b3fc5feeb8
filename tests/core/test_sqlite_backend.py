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


def _holder(path, ready, release):
    import fcntl

    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        ready.set()
        release.wait(30)


@pytest.mark.django_db
def test_a_writer_behind_a_long_transaction_gives_up_after_the_busy_timeout(tmp_path):
    """Another process holds the writers' lock (a long import, an operator's
    shell): a write waits SQLITE_BUSY_TIMEOUT, then fails as "database is
    locked" instead of hanging the web worker for ever."""
    import multiprocessing
    import time

    from django.db import OperationalError, connection

    from core.db.sqlite3.base import DatabaseWrapper

    if connection.vendor != "sqlite":
        pytest.skip("the SQLite writers' queue")
    name = str(tmp_path / "db.sqlite3")
    settings_dict = {**connection.settings_dict, "NAME": name, "OPTIONS": {"timeout": 1}}
    writer = DatabaseWrapper(settings_dict, alias="busy")
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_holder, args=(name + "-writers.lock", ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        writer.ensure_connection()
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            writer._start_transaction_under_autocommit()
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join(10)
    assert 0.9 <= waited < 5
    # Once the other process lets go, the writer gets in at once.
    writer._start_transaction_under_autocommit()
    writer._rollback()
    writer.close()


def test_a_busy_database_answers_503_with_a_retry_hint(rf):
    from django.db import OperationalError

    from core.middleware import DatabaseBusyMiddleware

    def busy_view(request):
        raise OperationalError("database is locked")

    middleware = DatabaseBusyMiddleware(busy_view)
    for path, kind in (("/api/ratings", "application/json"), ("/movies/1/rate", "text/html")):
        request = rf.post(path)
        try:
            busy_view(request)
        except OperationalError as error:
            response = middleware.process_exception(request, error)
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert response["Content-Type"].startswith(kind)
        assert b"Nothing was saved" in response.content
    # Any other database error stays a server error.
    assert middleware.process_exception(rf.get("/"), OperationalError("no such table")) is None
