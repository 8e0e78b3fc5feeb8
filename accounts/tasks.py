"""Celery tasks of the accounts app: thin, they call accounts.services."""

from celery import shared_task

from accounts.services import api_tokens_delete_expired as delete_expired


@shared_task(name="accounts.tasks.api_tokens_delete_expired", ignore_result=True)
def api_tokens_delete_expired() -> int:
    return delete_expired()
