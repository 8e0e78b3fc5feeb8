"""Celery tasks: thin, they take ids and call gnn.runs or gnn.services.

No torch import at module level: the worker's child processes import it
inside the task, after the prefork pool has forked.
"""

import logging

from celery import shared_task

log = logging.getLogger("gnn.training")


@shared_task(name="gnn.tasks.train_model", ignore_result=True)
def train_model(run_id: int) -> None:
    from gnn import runs

    runs.training_run_execute(run_id=run_id)


@shared_task(name="gnn.tasks.scheduled_retrain", ignore_result=True)
def scheduled_retrain() -> None:
    from gnn.models import TrainingRun
    from gnn.services import training_request

    training_request(trigger=TrainingRun.Trigger.SCHEDULE)


@shared_task(name="gnn.tasks.refresh_serving", ignore_result=True)
def refresh_serving() -> None:
    """On the refresh queue (its own worker), so a training run never holds it up."""
    from gnn import runs
    from gnn.services import retrain_if_due

    # Web processes look at the retraining threshold only every few ratings;
    # this periodic task catches a threshold crossed in between.
    try:
        retrain_if_due()
    except Exception:
        log.exception("could not check whether to retrain")
    runs.refresh_serving()
