from celery import shared_task

from events.services import events_delete_expired, events_flush


@shared_task(name="events.tasks.flush", ignore_result=True)
def flush() -> dict[str, int]:
    return events_flush()


@shared_task(name="events.tasks.delete_expired", ignore_result=True)
def delete_expired() -> int:
    return events_delete_expired()
