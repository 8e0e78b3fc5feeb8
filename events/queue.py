"""The events' durable queue between a request and the database.

A request pushes one JSON line and goes on; a flusher (the worker's beat,
every few seconds, or ``flush_events``) moves lines into the database in
batches. Both places a line can wait survive a ``kill -9`` of the web
process, so nothing waits in its memory:

- a Redis list (``EVENTS_QUEUE_URL=redis://…``), shared by every web
  machine: ``RPUSH`` per event; the flusher reads a batch with ``LRANGE``,
  writes it, then ``LTRIM``s it (one flusher at a time, under a lock);
- a spool folder (``DATA_DIR/events``, the embedded default, and where
  events go when Redis does not answer): one append-only file per process,
  one ``write`` per line under a shared ``flock``; the flusher renames a
  file aside, takes the exclusive lock (so a write in flight finishes
  first), reads it and deletes it once written. A writer that finds its
  file renamed under it writes again to a fresh one.

Either way a flush that dies half-way is run again: lines carry their
event's id and the database ignores an id it has.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

SPOOL_GLOB = "spool-*.jsonl"
REDIS_KEY = "events:queue"
REDIS_LOCK = "events:flush-lock"


class QueueUnavailable(Exception):
    """The queue could not take or give events (the caller counts it)."""


class SpoolQueue:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self) -> Path:
        # Per host and process: a shared data volume never has two writers
        # appending to one file from different machines.
        return self.folder / f"spool-{socket.gethostname()}-{os.getpid()}.jsonl"

    def push(self, line: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for _ in range(5):
                path = self._path()
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH)
                    try:
                        same = os.stat(path).st_ino == os.fstat(fd).st_ino
                    except FileNotFoundError:
                        same = False
                    if same:  # not renamed aside by a flusher meanwhile
                        os.write(fd, line + b"\n")
                        return
                finally:
                    os.close(fd)
        except OSError as exc:
            raise QueueUnavailable(f"spool {self.folder}: {exc}") from exc
        raise QueueUnavailable(f"spool {self.folder}: the file kept moving")

    @contextlib.contextmanager
    def batches(self) -> Iterator[list[tuple[Path, list[bytes]]]]:
        """The spool's waiting lines, file by file; the files go when the
        block ends without an error (the lines are written by then)."""
        if not self.folder.is_dir():
            yield []
            return
        for path in self.folder.glob(SPOOL_GLOB):
            with contextlib.suppress(FileNotFoundError):
                path.rename(path.with_name(f"{path.name}.{time.time_ns()}.flushing"))
        taken = []
        for path in sorted(self.folder.glob("*.flushing")):
            with open(path, "rb") as file:
                fcntl.flock(file, fcntl.LOCK_EX)  # a write in flight ends first
                taken.append((path, file.read().splitlines()))
        yield taken
        for path, _ in taken:
            path.unlink(missing_ok=True)

    def pending(self) -> int:
        if not self.folder.is_dir():
            return 0
        total = 0
        for path in [*self.folder.glob(SPOOL_GLOB), *self.folder.glob("*.flushing")]:
            with contextlib.suppress(FileNotFoundError), open(path, "rb") as file:
                total += sum(1 for _ in file)
        return total

    @contextlib.contextmanager
    def flush_lock(self) -> Iterator[bool]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "flush.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


class RedisQueue:
    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._errors = (redis.RedisError, OSError)

    def push(self, line: bytes) -> None:
        try:
            self.client.rpush(REDIS_KEY, line)
        except self._errors as exc:
            raise QueueUnavailable(f"redis: {exc}") from exc

    def take(self, n: int) -> list[bytes]:
        try:
            return self.client.lrange(REDIS_KEY, 0, n - 1)
        except self._errors as exc:
            raise QueueUnavailable(f"redis: {exc}") from exc

    def done(self, n: int) -> None:
        """The first ``n`` lines are written: drop them (pushes go to the
        other end, so they are untouched)."""
        self.client.ltrim(REDIS_KEY, n, -1)

    def pending(self) -> int:
        try:
            return int(self.client.llen(REDIS_KEY))
        except self._errors:
            return 0

    @contextlib.contextmanager
    def flush_lock(self, seconds: int = 120) -> Iterator[bool]:
        token = uuid.uuid4().hex
        try:
            held = bool(self.client.set(REDIS_LOCK, token, nx=True, ex=seconds))
        except self._errors:
            held = False
        try:
            yield held
        finally:
            if held:
                with contextlib.suppress(*self._errors):
                    if self.client.get(REDIS_LOCK) == token.encode():
                        self.client.delete(REDIS_LOCK)
