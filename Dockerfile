# CPU-only image of the recommender: web (gunicorn) or worker, same image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # One thread per process for BLAS/OpenMP; torch's own thread count is set
    # deliberately by the service and the worker.
    OMP_NUM_THREADS=1 \
    OMP_WAIT_POLICY=PASSIVE \
    MKL_NUM_THREADS=1 \
    DATA_DIR=/var/lib/recommender/data \
    MODELS_DIR=/var/lib/recommender/models \
    STATIC_ROOT=/app/staticfiles \
    # Never configured by a .env that reached the build context.
    READ_DOTENV=false

WORKDIR /app

# The CPU build of torch from PyTorch's own index (PyPI's default is a CUDA
# build of several GB); then the project and its other dependencies.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
COPY pyproject.toml README.md ./
COPY core ./core
COPY recommender ./recommender
COPY accounts ./accounts
COPY catalog ./catalog
COPY ratings ./ratings
COPY gnn ./gnn
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu .
COPY . .

RUN useradd --system --create-home --uid 10001 app \
    && mkdir -p /var/lib/recommender/data /var/lib/recommender/models /app/staticfiles \
    && chown -R app:app /var/lib/recommender /app/staticfiles
USER app

EXPOSE 8000
ENV GUNICORN_BIND=0.0.0.0:8000
HEALTHCHECK --interval=15s --timeout=10s --start-period=300s --retries=3 CMD ["scripts/healthcheck"]
# Bootstrap first (retried until it succeeds; one container at a time), then serve.
ENTRYPOINT ["scripts/container-start"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "recommender.wsgi"]
