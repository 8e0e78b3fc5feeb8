"""Uploaded and generated files (posters) served by Django itself: the
embedded default and a single container have no other web server. Every name
carries its content's hash, so a browser keeps a file for a year."""

import re

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

YEAR = 365 * 24 * 3600


def media(request, path):
    # serve() refuses paths outside MEDIA_ROOT and answers 404 for folders.
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    if response.status_code == 200:
        response["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response


def media_urlpatterns() -> list:
    """The media URL, when SERVE_MEDIA is on and MEDIA_URL is a local path."""
    prefix = settings.MEDIA_URL.lstrip("/")
    if not settings.SERVE_MEDIA or "://" in settings.MEDIA_URL or not prefix:
        return []
    return [re_path(rf"^{re.escape(prefix)}(?P<path>.+)$", media, name="media")]
