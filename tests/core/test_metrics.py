"""The process's metrics: every label a request can set is bounded."""

from core import metrics


def _methods_seen() -> set[str]:
    return {
        sample.labels["method"]
        for family in metrics.REQUEST_LATENCY.collect()
        for sample in family.samples
        if "method" in sample.labels
    }


def test_invented_methods_share_one_series(client, db):
    """Finding 4: `curl -X ANYTHING` made a new series in every process."""
    before = _methods_seen()
    for n in range(100):
        client.generic(f"INVENTED{n}", "/api/health")
    client.get("/api/health")
    seen = _methods_seen()
    assert seen <= metrics.KNOWN_METHODS | {"other"}
    assert "other" in seen and len(seen - before) <= 2
    assert not any(name.startswith("INVENTED") for name in seen)


def test_a_request_is_counted_under_its_view_method_and_status(client, db):
    def count(status: str) -> float:
        return sum(
            sample.value
            for family in metrics.REQUESTS.collect()
            for sample in family.samples
            if sample.name.endswith("_total") and sample.labels.get("status") == status
        )

    before = count("404")
    client.get("/movies/999999/")
    assert count("404") == before + 1
