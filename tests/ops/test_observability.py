import json
import logging

import pytest
from django.urls import reverse

from catalog.models import Movie
from ratings.models import Rating


class JsonLines(logging.Handler):
    """Captures records as the configured JSON formatter writes them."""

    def __init__(self):
        super().__init__()
        from django.conf import settings

        formatter_config = settings.LOGGING["formatters"]["json"]
        from pythonjsonlogger.json import JsonFormatter

        self.setFormatter(
            JsonFormatter(
                formatter_config["format"], rename_fields=formatter_config["rename_fields"]
            )
        )
        from core.observability import ContextFilter

        self.addFilter(ContextFilter())
        self.lines = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def json_log():
    handler = JsonLines()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)


def test_request_id_is_returned_and_on_the_json_log_line_of_the_request(client, member, json_log):
    client.force_login(member)
    response = client.get(reverse("catalog:list"), HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    access = [line for line in json_log if line["logger"] == "recommender.web"]
    assert access and access[-1]["request_id"] == "abc-123"
    assert access[-1]["user_id"] == member.pk
    assert access[-1]["status"] == 200 and access[-1]["view"] == "catalog:list"


def test_the_warning_for_a_refused_request_carries_its_request_id(client, db, json_log):
    client.post("/api/ratings", {}, content_type="application/json", HTTP_X_REQUEST_ID="refused-1")
    warnings = [line for line in json_log if line["logger"] == "django.request"]
    assert len(warnings) == 1  # once, not again by Django's handler
    assert warnings[0]["request_id"] == "refused-1"
    assert "Unauthorized" in warnings[0]["message"]


def test_a_request_id_is_made_when_none_or_a_strange_one_is_given(client, db):
    made = client.get("/api/health")["X-Request-ID"]
    strange = client.get("/api/health", HTTP_X_REQUEST_ID="<script>" * 20)["X-Request-ID"]
    assert len(made) == 32 and len(strange) == 32 and made != strange


def test_metrics_refuse_anonymous_users(client, member):
    assert client.get("/metrics").status_code == 403
    client.force_login(member)
    assert client.get("/metrics").status_code == 403


def test_metrics_answer_staff_and_allowed_addresses(client, staff, settings, db):
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200
    client.logout()
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics").status_code == 200


def _metric(text: str, name: str, **labels) -> float:
    for line in text.splitlines():
        metric = line.split("{")[0].split(" ")[0]
        if metric == name and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_a_rating_write(client, staff, member, seeded):
    client.force_login(staff)
    before = _metric(
        client.get("/metrics").text, "recommender_ratings_written_total", kind="created"
    )
    client.force_login(member)
    movie = Movie.objects.first()
    with _run_on_commit():
        client.post(
            reverse("ratings:rate", args=[movie.pk]), {"value": "4"}, HTTP_HX_REQUEST="true"
        )
    client.force_login(staff)
    text = client.get("/metrics").text
    assert _metric(text, "recommender_ratings_written_total", kind="created") == before + 1
    assert _metric(text, "recommender_ratings") == Rating.objects.count()
    assert "recommender_request_seconds_bucket" in text
    assert 'recommender_model_info{version="none"} 0.0' in text


def _run_on_commit():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


def test_operations_page_is_staff_only_and_shows_the_figures(client, staff, member, trained):
    assert client.get(reverse("ops")).status_code == 302
    client.force_login(member)
    assert client.get(reverse("ops")).status_code == 302
    client.force_login(staff)
    client.get(reverse("catalog:list"))
    page = client.get(reverse("ops"))
    assert page.status_code == 200
    assert trained in page.text
    assert "Ratings per day" in page.text and "<svg" in page.text
    from core import metrics

    views = metrics.latency_quantiles("recommender_request_seconds", "view")
    busiest = max(views, key=lambda view: views[view]["count"])
    assert busiest in page.text


def test_pages_send_a_content_security_policy(client, db):
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
