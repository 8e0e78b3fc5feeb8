"""The site's own pages for errors, with its header and a way on; DEBUG off."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from recommender import urls


def _has_the_sites_layout(html: str) -> None:
    assert 'class="site-header"' in html and "Skip to content" in html
    assert 'href="/movies/"' in html  # the navigation, not a bare error string


@pytest.mark.django_db
def test_an_unknown_page_is_a_branded_404_with_ways_on(client, settings):
    settings.DEBUG = False
    answer = client.get("/no-such-page/")
    html = answer.content.decode()
    assert answer.status_code == 404
    _has_the_sites_layout(html)
    assert "This page isn't here" in html and "Browse movies" in html


@pytest.mark.django_db
def test_an_unknown_api_url_stays_json(client, settings):
    settings.DEBUG = False
    answer = client.get("/api/no-such-endpoint")
    assert answer.status_code == 404 and answer.json() == {"detail": "Not Found"}


@pytest.mark.django_db
def test_a_refused_admin_action_is_a_branded_403(client, django_user_model, settings):
    settings.DEBUG = False
    viewer = django_user_model.objects.create_user(username="viewer", password="x", is_staff=True)
    client.force_login(viewer)
    answer = client.post(reverse("admin:gnn_trainingrun_retrain"))
    html = answer.content.decode()
    assert answer.status_code == 403
    _has_the_sites_layout(html)
    assert "You can't open this page" in html


def test_a_server_error_is_a_branded_500_that_needs_no_request_context(settings):
    settings.DEBUG = False
    request = RequestFactory().get("/")
    answer = urls.handler500(request)
    html = answer.content.decode()
    assert answer.status_code == 500
    _has_the_sites_layout(html)
    assert "Something went wrong on our side" in html and "nothing you saved was lost" in html


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_sites_icon(client):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301 and answer["Location"].endswith("favicon.svg")
    assert client.get(answer["Location"]).status_code == 200
