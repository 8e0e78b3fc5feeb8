"""gunicorn serving the site with the committed configuration."""

import socket
import subprocess
import sys
import time
import urllib.request

from tests.recommender.test_settings import ROOT, production_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_serves_with_the_committed_config(tmp_path):
    env = production_env(tmp_path, HTTPS="false", LOG_FORMAT="json")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
        capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=ROOT, env=env,
        check=True, capture_output=True,
    )  # fmt: skip
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "recommender.wsgi"],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/health", headers={"X-Request-ID": "smoke-1"}
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert response.status == 200
                    assert response.headers["X-Request-ID"] == "smoke-1"
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
            assert "Content-Security-Policy" in page.headers
            html = page.read().decode()
        css = html.split('href="/static/css/')[1].split('"')[0]
        assert "." in css.split("site")[1]  # hashed name, served by WhiteNoise
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/{css}", timeout=5) as r:
            assert r.status == 200
    finally:
        server.terminate()
        server.wait(20)
        log.close()
    assert b'"request_id": "smoke-1"' in (tmp_path / "gunicorn.log").read_bytes()
