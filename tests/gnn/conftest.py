"""What the gnn app's tests share."""

import pytest

from gnn import services


@pytest.fixture
def no_broker(monkeypatch):
    """For tests about the database's side of runs: what would be handed to
    the broker is recorded instead (the run ids), never sent."""
    sent = []
    monkeypatch.setattr(services, "_send", lambda run_id: sent.append(run_id) or True)
    return sent
