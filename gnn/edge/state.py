"""What one process remembers between requests, in one object.

The served engine and the retraining trigger's memos live here rather than
in module globals, so a test (or a settings change) resets them all at once
with ``process_state.reset()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class ProcessState:
    service: Any = None  # gnn.edge.serving.RecommendationService, made on first use
    # Data snapshot time per model version, read once from its metadata.
    snapshot_of: dict[str, datetime | None] = field(default_factory=dict)
    # After a failed hand-over to the broker, it is skipped until then.
    broker_retry_after: float = 0.0
    # Ratings this process committed since it last asked for a refresh of the
    # serving arrays (per process: a shared counter would cost every write a
    # round trip; the periodic refresh catches what the counters miss).
    ratings_since_refresh: int = 0

    def reset(self) -> None:
        fresh = ProcessState()
        self.service = fresh.service
        self.snapshot_of = fresh.snapshot_of
        self.broker_retry_after = fresh.broker_retry_after
        self.ratings_since_refresh = fresh.ratings_since_refresh


process_state = ProcessState()
