"""SQLite with its writers queued instead of polling.

SQLite lets one writer in at a time; the others wait in its busy handler,
which sleeps in growing steps (up to 100 ms) and checks again. Under a burst
of rating writes that sleeping, not the work, made the slow tail. Here a
write transaction (BEGIN IMMEDIATE, which every `atomic` block starts) first
takes a lock that wakes the next writer the moment the current one ends: a
threading lock among the threads of a process, then an flock among processes
(one waiter per process). SQLite's own locking is unchanged underneath, and
its busy timeout still covers writes made outside `atomic`.

Both waits are bounded by the busy timeout (SQLITE_BUSY_TIMEOUT): behind a
long transaction (an import, an operator's shell) a writer gives up with
"database is locked", which the site answers with 503 and Retry-After
(core.middleware), instead of hanging a web worker.
"""

from __future__ import annotations

import fcntl
import threading
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_process_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def _process_lock(path: str) -> threading.Lock:
    with _registry_lock:
        return _process_locks.setdefault(path, threading.Lock())


def _flock_until(handle, deadline: float) -> None:
    """An exclusive flock, or OperationalError at ``deadline``. flock cannot
    time out by itself; a short poll keeps the hand-over within milliseconds."""
    pause = 0.0005
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OperationalError("database is locked") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.01)


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._writer_file = None
        self._writer_thread_lock = None

    def _queue_path(self) -> str | None:
        name = str(self.settings_dict.get("NAME") or "")
        if not name or self.is_in_memory_db():
            return None
        return name + "-writers.lock"

    def _enter_queue(self) -> None:
        path = self._queue_path()
        if path is None or self._writer_thread_lock is not None:
            return
        thread_lock = _process_lock(path)
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 20))
        deadline = time.monotonic() + timeout
        if not thread_lock.acquire(timeout=timeout):
            raise OperationalError("database is locked")
        try:
            if self._writer_file is None:
                self._writer_file = open(path, "a+")  # noqa: SIM115 - kept for the connection
            _flock_until(self._writer_file, deadline)
        except BaseException:
            thread_lock.release()
            raise
        self._writer_thread_lock = thread_lock

    def _leave_queue(self) -> None:
        held, self._writer_thread_lock = self._writer_thread_lock, None
        if held is None:
            return
        try:
            fcntl.flock(self._writer_file, fcntl.LOCK_UN)
        finally:
            held.release()

    def _start_transaction_under_autocommit(self):
        self._enter_queue()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._leave_queue()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._leave_queue()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._leave_queue()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._leave_queue()
            if self._writer_file is not None:
                self._writer_file.close()
                self._writer_file = None
