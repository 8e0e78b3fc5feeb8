"""gunicorn for a 2-core server (set WEB_CONCURRENCY for others).

Three worker processes with 2 threads each. Most of a request is Python
(templates, the ORM) holding the GIL, so threads of one process mostly take
turns; a third process on two cores keeps a long page render from holding up
the short requests behind it (measured with benchmarks/loadtest.py: 3x2 gave
a lower p95 than 2x4 at 50 users). Web workers serve from the version's
numpy arrays and never import torch, so each is small
(`python benchmarks/inference.py` reports its memory).
No --preload: each worker loads the model in post_worker_init, after the fork
and before it accepts a request, so no visitor waits for a first load, after
a start or a max_requests recycle alike, and the arrays are never shared
copy-on-write pages that the first refresh would duplicate anyway.
"""

import os
import shutil
import tempfile

# Requests are small matrix products: parallelism comes from the worker
# processes and threads, and BLAS threads would only contend with them for the
# same cores. Set before the workers import numpy.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 10000
max_requests_jitter = 500
preload_app = False
# Access lines come from the app (JSON, with request ids), not from gunicorn.
accesslog = None
errorlog = "-"
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Prometheus metrics summed across the workers.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if not _metrics_dir:
    _metrics_dir = tempfile.mkdtemp(prefix="recommender-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server):
    # Stale files from an earlier run would be summed in.
    for name in os.listdir(_metrics_dir):
        os.unlink(os.path.join(_metrics_dir, name))


def post_worker_init(worker):
    from django.db import connections

    from gnn.bridge.serving import get_service

    try:
        engine = get_service().engine()
        if engine is None:
            worker.log.info("no model to serve yet: popularity until one is published")
        else:
            worker.log.info("model version %s loaded before serving", engine.version)
    except Exception:  # the first request that needs it tries again
        worker.log.exception("the model could not be loaded before serving")
    finally:
        # Requests run on the worker's threads; this thread's connection would idle.
        connections.close_all()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _metrics_dir.startswith(tempfile.gettempdir()):
        shutil.rmtree(_metrics_dir, ignore_errors=True)
