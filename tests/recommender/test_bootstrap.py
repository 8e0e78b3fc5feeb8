"""bootstrap: what a fresh or upgraded checkout needs before it serves."""

import json

from django.conf import settings
from django.core.management import call_command

from gnn.bridge import registry
from gnn.selectors import ListQuery, recommendations_for
from tests.conftest import _Null, serving


def _age_to_an_older_format(version: str) -> None:
    path = registry.versions_dir(settings.MODELS_DIR) / version / registry.METADATA_FILE
    metadata = json.loads(path.read_text())
    metadata["format"] = registry.FORMAT - 1
    path.write_text(json.dumps(metadata))


def test_a_served_version_of_an_older_format_serves_popularity_until_bootstrap_retrains(
    trained, member, settings
):
    _age_to_an_older_format(trained)
    # This code refuses to load it: recommendations fall back to popularity.
    assert recommendations_for(user=member, query=ListQuery(n=5)).source == "popularity"

    settings.TRAINING_MAX_STEPS = 30
    call_command("bootstrap", stdout=_Null(), stderr=_Null())

    now = serving()
    assert now != trained
    assert registry.read_metadata(settings.MODELS_DIR, now).format == registry.FORMAT


def test_bootstrap_leaves_a_current_version_alone(trained, settings):
    call_command("bootstrap", stdout=_Null(), stderr=_Null())
    assert serving() == trained
