"""The end-to-end journeys' real parts: a Celery worker process, a broker, and
Playwright driving Debian's Chromium against a live server.

`make test` installs Chromium from Debian's packages when it is missing
(scripts/ensure-chromium); Playwright's own browser download is not used.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from kombu import pools as kombu_pools

from gnn.bridge.state import process_state
from recommender.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def database_url() -> str:
    """The test database, for another process to connect to."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or "postgres"
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    host = config.get("HOST") or "127.0.0.1"
    port = config.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{config['NAME']}"


def _reset_pools():
    """Forget pooled broker connections so the next publish uses the new URL.

    Celery has no public call for this; it is what it does itself after a fork
    (Celery._after_fork).
    """
    kombu_pools.reset()  # kombu keeps producer pools per connection, process-wide
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextlib.contextmanager
def broker(url: str, transport_options: dict | None = None):
    """Point this process's Celery producer at ``url``."""
    saved = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options)
    celery_app.conf.broker_url = url
    celery_app.conf.broker_transport_options = transport_options or {
        "socket_connect_timeout": 0.5,
        "socket_timeout": 2,
        "max_retries": 0,
    }
    _reset_pools()
    process_state.broker_retry_after = 0.0
    try:
        yield
    finally:
        celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved
        _reset_pools()
        process_state.broker_retry_after = 0.0


@pytest.fixture
def redis_broker():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    with broker(REDIS_URL):
        yield client
    client.flushdb()


class Worker:
    """`celery worker` as a separate process group, as an operator runs it."""

    def __init__(
        self, broker_url: str, log_path: Path, queues: str = "celery,training", *,
        beat: bool = False, **env,
    ):  # fmt: skip
        self.log_path = log_path
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "recommender.settings",
            "DEBUG": "false",
            "SECRET_KEY": "worker-test-key",
            "DATABASE_URL": database_url(),
            "DATA_DIR": str(settings.DATA_DIR),
            "MODELS_DIR": str(settings.MODELS_DIR),
            "CELERY_BROKER_URL": broker_url,
            "TORCH_THREADS_TRAINING": "1",
            "OMP_NUM_THREADS": "1",
            **{key: str(value) for key, value in env.items()},
        }
        command = [
            sys.executable, "-m", "celery", "-A", "recommender", "worker",
            "-Q", queues, "--concurrency", "1", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--hostname", f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
        ]  # fmt: skip
        if beat:  # the embedded beat, as the documented worker command runs it
            command += ["--beat", "--schedule", str(log_path.with_suffix(".beat"))]
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self._wait_ready()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_ready(self, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"celery worker did not start:\n{self.output()[-3000:]}")

    def kill(self):
        """SIGKILL the worker and its pool children, as an OOM killer would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def kill_main(self) -> list[int]:
        """SIGKILL the worker's main process alone, as an OOM killer picking it
        would; the pool processes it had."""
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        return [int(pid) for pid in found]

    def stop(self):
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def start_worker(tmp_path):
    workers = []

    def start(
        broker_url: str = REDIS_URL, queues: str = "celery,training", beat: bool = False, **env
    ) -> Worker:
        log = tmp_path / f"worker-{len(workers)}.log"
        worker = Worker(broker_url, log, queues, beat=beat, **env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_for(predicate, timeout: float = 90.0, interval: float = 0.2, what="condition"):
    """Poll until ``predicate`` is truthy; ``what`` (text, or a callable giving
    text such as a worker's log) says what was awaited when it times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    description = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout} s waiting for {description}")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}; run scripts/ensure-chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the tests make between page actions are synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield chromium
            chromium.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    # Every page must work under the site's CSP: no inline script or style.
    assert not violations, violations[:3]


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


SIZES = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 900}}


@pytest.fixture(params=list(SIZES))
def sized_page(request, browser, live_server):
    """(size name, page) on a phone and on a laptop, each under the site's CSP."""
    context = browser.new_context(base_url=live_server.url, viewport=SIZES[request.param])
    context.set_default_timeout(15_000)
    page = context.new_page()
    violations = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield request.param, page
    context.close()
    assert not violations, violations[:3]
