import os

# Before anything imports torch: OpenMP threads that spin while they wait
# make two-thread training 3-4x slower whenever the other core is busy (on
# two cores; `benchmark_movielens` beside a busy core shows it); passive
# waiting removes that collapse.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The Celery app is loaded with Django so that @shared_task binds to it.
from recommender.celery import app as celery_app

__all__ = ("celery_app",)
