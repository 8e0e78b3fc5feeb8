"""SQLite with its writers queued instead of polling.

SQLite lets one writer in at a time; the others wait in its busy handler,
which sleeps in growing steps (up to 100 ms) and checks again. Under a burst
of rating writes that sleeping, not the work, made the slow tail. Here a
write transaction (BEGIN IMMEDIATE, which every `atomic` block starts) first
takes a lock that wakes the next writer the moment the current one ends: a
threading lock among the threads of a process, then an flock among processes
(one waiter per process). SQLite's own locking is unchanged underneath, and
its busy timeout still covers writes made outside `atomic`.
"""

from __future__ import annotations

import fcntl
import threading

from django.db.backends.sqlite3 import base

_process_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def _process_lock(path: str) -> threading.Lock:
    with _registry_lock:
        return _process_locks.setdefault(path, threading.Lock())


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
        if not thread_lock.acquire(timeout=timeout):
            return  # give up queueing politely; SQLite's busy timeout decides
        try:
            if self._writer_file is None:
                self._writer_file = open(path, "a+")  # noqa: SIM115 - kept for the connection
            fcntl.flock(self._writer_file, fcntl.LOCK_EX)
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
