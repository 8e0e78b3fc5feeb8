"""Years a curator set before the flag existed stay theirs."""

import importlib
import json

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType

from catalog.models import Movie

migration = importlib.import_module("catalog.migrations.0004_movie_year_from_curator")


@pytest.mark.django_db
def test_the_migration_marks_years_curators_changed_in_the_admin_log(admin_user):
    edited, renamed = Movie.objects.create(title="A", year=1980), Movie.objects.create(title="B")
    kind = ContentType.objects.get_for_model(Movie)
    for movie, fields in ((edited, ["Title", "Year"]), (renamed, ["Title"])):
        LogEntry.objects.create(
            user=admin_user, content_type=kind, object_id=str(movie.pk), object_repr="x",
            action_flag=CHANGE, change_message=json.dumps([{"changed": {"fields": fields}}]),
        )  # fmt: skip

    migration.mark_years_curators_changed(apps, None)

    assert Movie.objects.get(pk=edited.pk).year_from_curator
    assert not Movie.objects.get(pk=renamed.pk).year_from_curator
