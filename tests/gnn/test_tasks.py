"""The Celery tasks: thin, they carry out what gnn.runs and gnn.services do."""

import pytest

from catalog.models import Movie
from gnn.models import TrainingRun
from gnn.tasks import scheduled_retrain
from ratings.services import rating_set

pytestmark = pytest.mark.usefixtures("no_broker")


def test_the_schedule_is_off_by_default_and_starts_a_scheduled_run(db, settings):
    from recommender.settings import CELERY_BEAT_SCHEDULE

    assert "periodic-retrain" not in CELERY_BEAT_SCHEDULE
    assert CELERY_BEAT_SCHEDULE["periodic-refresh"]["task"] == "gnn.tasks.refresh_serving"
    scheduled_retrain()
    assert TrainingRun.objects.get().trigger == "schedule"


def test_the_periodic_refresh_task_queues_a_retrain_the_web_processes_have_not_seen(
    trained, member, settings
):
    from gnn.tasks import refresh_serving

    settings.RETRAIN_AFTER_RATINGS = 2
    settings.RETRAIN_CHECK_EVERY_RATINGS = 100
    for movie in Movie.objects.order_by("pk")[:3]:
        rating_set(user=member, movie=movie, value=4)
    assert not TrainingRun.objects.filter(trigger="threshold").exists()
    refresh_serving()
    assert TrainingRun.objects.filter(trigger="threshold").count() == 1
