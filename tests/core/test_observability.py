"""Request ids, JSON logs and the access log."""

import json
import logging

import pytest
from django.urls import reverse


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
