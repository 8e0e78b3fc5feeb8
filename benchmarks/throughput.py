"""Throughput of cached recommendations over the API, two checkouts side by side.

    python benchmarks/throughput.py --other /path/to/checkout[:MODELS_DIR] \
        [--clients 10] [--seconds 15] [--rounds 3]

Starts gunicorn for this checkout and for ``--other`` (each with its own
gunicorn.conf.py, 2 worker processes, DEBUG off, a Redis cache), on the same
database (DATABASE_URL, default the development SQLite file) with the models of
each (MODELS_DIR, or the one given after the colon). Both must already serve a
model. Then ``--clients`` closed-loop clients (wrk, from Debian's package, with
keep-alive connections; non-2xx answers count as errors) ask
GET /api/recommendations/{id} with a Bearer token, in turns: this, other,
this, other... for ``--rounds`` rounds of ``--seconds``, so both
see the same machine noise. Prints requests per second and p50/p95 per round
and the median ratio. Needs Redis (REDIS_URL, default 127.0.0.1:6379).
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PY = sys.executable
TOKEN_SCRIPT = """
from django.db.models import Count
from accounts.models import User
from accounts.services import api_token_create
user = User.objects.annotate(n=Count("ratings")).filter(n__gte=20).order_by("n").first()
print(user.pk, api_token_create(user=user))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(models_dir: str, redis_db: int) -> dict:
    env = dict(os.environ)
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
    env.update(
        DEBUG="false",
        READ_DOTENV="false",
        SECRET_KEY="throughput-benchmark-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        CACHE_URL=f"{redis}/{redis_db}",
        MODELS_DIR=models_dir,
        WEB_CONCURRENCY="2",
        PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="throughput-metrics-"),
    )
    env.setdefault("DATABASE_URL", f"sqlite:///{HERE / 'db.sqlite3'}")
    return env


def start(tree: Path, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    server = subprocess.Popen(
        # No worker recycling mid-round: a recycled worker reloads its model.
        [PY, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--max-requests", "0", "recommender.wsgi"],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn in {tree} stopped while starting")
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=5):
                return server, url
        except OSError:
            time.sleep(0.5)
    server.terminate()
    sys.exit(f"gunicorn in {tree} did not answer in time")


def token(tree: Path, env: dict) -> tuple[int, str]:
    out = subprocess.run(
        [PY, "manage.py", "shell", "-c", TOKEN_SCRIPT],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    user_id, secret = out.strip().splitlines()[-1].split()
    return int(user_id), secret


# wrk reports these after a run; latencies are in microseconds.
WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), summary.duration))
end
"""


def load(url: str, path: str, secret: str, clients: int, seconds: float) -> dict:
    """One closed-loop run of wrk: ``clients`` keep-alive connections, each
    sending its next request when the last is answered."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds}s", "-s", script.name,
         "-H", f"Authorization: Bearer {secret}", url + path],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    os.unlink(script.name)
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    requests, errors, p50, p95, duration = (int(x) for x in line.split()[1:])
    return {
        "rate": requests / (duration / 1e6),
        "p50": p50 / 1000,
        "p95": p95 / 1000,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", required=True, help="checkout[:MODELS_DIR]")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    other_tree, _, other_models = args.other.partition(":")
    models = os.environ.get("MODELS_DIR", str(HERE / "var" / "models"))
    trees = {
        "this": (HERE, server_env(models, 5)),
        "other": (Path(other_tree).resolve(), server_env(other_models or models, 6)),
    }
    servers = {}
    try:
        for name, (tree, env) in trees.items():
            server, url = start(tree, env)
            user_id, secret = token(tree, env)
            path = f"/api/recommendations/{user_id}?n=10"
            load(url, path, secret, 2, 1)  # warm the cache
            servers[name] = (server, url, path, secret)
        rates: dict[str, list[float]] = {name: [] for name in servers}
        for round_ in range(1, args.rounds + 1):
            for name, (_, url, path, secret) in servers.items():
                run = load(url, path, secret, args.clients, args.seconds)
                rates[name].append(run["rate"])
                print(
                    f"round {round_} {name:5s}: {run['rate']:7.1f} req/s   p50 {run['p50']:6.1f}"
                    f" ms   p95 {run['p95']:6.1f} ms   errors {run['errors']}",
                    flush=True,
                )
        ratio = statistics.median(a / b for a, b in zip(rates["this"], rates["other"], strict=True))
        print(f"median ratio this/other over {args.rounds} rounds: {ratio:.2f}x")
    finally:
        for server, *_ in servers.values():
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
