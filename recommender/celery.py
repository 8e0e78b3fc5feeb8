"""The Celery app. Settings live in Django settings under the CELERY_ namespace.

Workers import torch only inside tasks (after the prefork pool has forked) and
set torch's thread count once per child process; see worker_process_init.
"""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")

app = Celery("recommender")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _configure_torch_threads(**_kwargs):
    import torch
    from django.conf import settings

    torch.set_num_threads(settings.TORCH_THREADS_TRAINING)
