"""/metrics and the operations page."""

from django.urls import reverse

from catalog.models import Movie
from ratings.models import Rating


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
    assert 'recommender_model_info{role="current",version="none"} 0.0' in text


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


def test_operations_page_reads_without_colour_and_says_when_the_next_retrain_comes(
    client, staff, trained, settings
):
    from core import metrics

    client.force_login(staff)
    before = metrics.error_rate()
    page = client.get(reverse("ops"))
    errors = page.context["errors"]
    assert errors["requests"] >= before["requests"] and errors["errors"] >= 0
    assert 'data-testid="ops-errors"' in page.text
    assert f"of {settings.RETRAIN_AFTER_RATINGS} new ratings" in page.context["retraining"]
    assert page.context["retraining"] in page.text
    # Every line chart has its figures as a table and its series told apart by shape.
    assert page.text.count("The figures as a table") >= 3
    quality = page.context["quality_chart"]
    assert len({line["marker"] for line in quality["lines"]}) == len(quality["lines"])
    assert page.context["duration_chart"]["rows"][-1]["values"][0] is not None
