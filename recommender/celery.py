"""The Celery app. Settings live in Django settings under the CELERY_ namespace.

Workers import torch only inside tasks (after the prefork pool has forked);
the training pipeline sets torch's thread count itself. This module is
imported by web processes too, so it imports no torch.
"""

import os

from celery import Celery
from celery.signals import beat_init, task_postrun, task_prerun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")

app = Celery("recommender")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


_context_tokens: dict[str, object] = {}


@task_prerun.connect
def _adopt_request_id(task_id=None, task=None, **_kwargs):
    """Log lines of a task carry the id of the request that enqueued it."""
    from core.observability import request_id_var

    request_id = task.request.get("request_id") if task is not None else None
    _context_tokens[task_id] = request_id_var.set(request_id or f"task-{task_id}")


@task_postrun.connect
def _forget_request_id(task_id=None, **_kwargs):
    from core.observability import request_id_var

    token = _context_tokens.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)


@worker_process_init.connect
@beat_init.connect
def _die_with_the_worker(**_kwargs):
    """A worker's pool processes and its embedded beat die with its main
    process, kill -9 included (Linux: PR_SET_PDEATHSIG). Otherwise a killed
    worker leaves its training run going on unwatched (its run is taken for
    dead, so it never publishes, but it holds a core) and a second beat
    sending the schedule twice once the worker is started again."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the line above: go now
        os._exit(1)
