"""What one process remembers between requests, in one object.

The served engine, the retraining trigger's memos and recent answers live here rather than
in module globals, so a test (or a settings change) resets them all at once
with ``process_state.reset()``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

# As long as the shared cache keeps them (gnn.selectors).
ANSWER_SECONDS = 60 * 60


class RecentAnswers:
    """The process's most recently served answers, in front of the shared
    cache: a Redis round trip is most of a repeated answer's time. Safe to
    keep without invalidation because a key names everything its answer is
    computed from (served version and refresh, catalogue, the member's taste
    version), so the answer under a key never changes."""

    def __init__(self, size: int, seconds: float):
        self._size = size
        self._seconds = seconds
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, body: bytes) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + self._seconds, body)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def discard(self, keys) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)


# About 3 KB an answer of 10: a few MB a process at most.


@dataclass
class ProcessState:
    service: Any = None  # gnn.bridge.serving.RecommendationService, made on first use
    # After a failed hand-over to the broker, it is skipped until then.
    broker_retry_after: float = 0.0
    # Ratings this process committed since it last asked for a refresh of the
    # serving arrays (per process: a shared counter would cost every write a
    # round trip; the periodic refresh catches what the counters miss).
    ratings_since_refresh: int = 0
    # The same for the look at whether a retrain is due.
    ratings_since_retrain_check: int = 0
    # About 3 KB an answer of 10 movies: a few MB at most.
    recent_answers: RecentAnswers = field(
        default_factory=lambda: RecentAnswers(2000, ANSWER_SECONDS)
    )

    def reset(self) -> None:
        fresh = ProcessState()
        self.service = fresh.service
        self.broker_retry_after = fresh.broker_retry_after
        self.ratings_since_refresh = fresh.ratings_since_refresh
        self.ratings_since_retrain_check = fresh.ratings_since_retrain_check
        self.recent_answers = fresh.recent_answers


process_state = ProcessState()
