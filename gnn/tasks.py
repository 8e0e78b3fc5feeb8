"""Celery tasks: thin, they take ids and call gnn.services.

No torch import at module level: the worker's child processes import it
inside the task, after the prefork pool has forked.
"""

from celery import shared_task


@shared_task(name="gnn.tasks.train_model", ignore_result=True)
def train_model(run_id: int) -> None:
    from gnn.runs import training_run_execute

    training_run_execute(run_id=run_id)


@shared_task(name="gnn.tasks.scheduled_retrain", ignore_result=True)
def scheduled_retrain() -> None:
    from gnn.models import TrainingRun
    from gnn.services import training_request

    training_request(trigger=TrainingRun.Trigger.SCHEDULE)


@shared_task(name="gnn.tasks.refresh_serving", ignore_result=True)
def refresh_serving() -> None:
    """On the refresh queue (its own worker), so a training run never holds it up."""
    from gnn.runs import serving_refresh

    serving_refresh()
