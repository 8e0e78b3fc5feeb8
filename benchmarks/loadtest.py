"""Load test: gunicorn on 127.0.0.1, locust headless at 1, 10 and 50 users.

    .venv/bin/pip install -e ".[load]"          # locust, once
    .venv/bin/python benchmarks/loadtest.py                      # SQLite, locmem cache
    .venv/bin/python benchmarks/loadtest.py --database postgres  # PostgreSQL + Redis cache
    .venv/bin/python benchmarks/loadtest.py --database postgres --data DIR --servers 2

Bounded and loopback-only: the server listens on 127.0.0.1 only and every
phase runs for --duration seconds. It works on a copy of the data (a copy of
data/db.sqlite3, or a fresh PostgreSQL database `recommender_load` filled
from --data, an ml-100k-layout directory, data/ml-100k by default), serves
the model that MODELS_DIR (models/ by default) serves, and prints, per phase
and request type: throughput, p50/p95/p99 and errors; then checks that the
database holds exactly the ratings that were acknowledged, and reports the
resident memory of each gunicorn worker.

``--faults`` runs the soak with faults injected instead (benchmarks/soak.py:
its own PostgreSQL, Redis, two gunicorn instances and both Celery workers,
50 members for --duration seconds, at least 600, at most 1800, default 660).

``--servers 2`` starts two gunicorn instances sharing the database and Redis,
as two machines behind a load balancer would; each phase's users are split
between them (a locust process each, with accounts of their own), and a
request type's percentiles are the worse of the servers'.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(command: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, check=True, **kwargs)


def prepare_database(kind: str, work: Path, env: dict, data: Path) -> dict:
    if kind == "sqlite":
        source = ROOT / "data" / "db.sqlite3"
        if not source.exists():
            sys.exit("data/db.sqlite3 is missing: run `make run` once first.")
        target = work / "load.sqlite3"
        # The backup API copies a consistent database, WAL included.
        import sqlite3

        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return {**env, "DATABASE_URL": f"sqlite:///{target}"}
    url = "postgres://postgres@127.0.0.1:5432/recommender_load"
    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "recommender_load"],
        check=True,
    )
    subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", "recommender_load"], check=True
    )
    env = {**env, "DATABASE_URL": url, "CACHE_URL": "redis://127.0.0.1:6379/3"}
    run([PY, "manage.py", "migrate", "--noinput", "-v0"], env)
    run([PY, "manage.py", "seed_movielens", "--source", str(data)], env,
        stdout=subprocess.DEVNULL)  # fmt: skip
    return env


ACCOUNTS_SCRIPT = """
import json, random, sys
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from accounts.models import User
from accounts.services import api_token_create
count = COUNT
password = make_password("load test passphrase 42")  # hashed once, shared
made = {"members": [], "api": []}
for kind in ("members", "api"):
    for i in range(count):
        user = User.objects.create(
            username=f"load-TAG-{kind}-{i}", password=password, age=random.randint(16, 70),
            gender=random.choice("MFO"), occupation=random.choice(["student", "engineer", "other"]),
        )
        if kind == "members":
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            made[kind].append({"username": user.username, "session": session.session_key})
        else:
            token = api_token_create(user=user)
            made[kind].append({"username": user.username, "user_id": user.pk, "token": token})
print(json.dumps(made))
"""


def prepare_accounts(env: dict, count: int, target: Path, tag: str) -> Path:
    """Members with a session and API clients with a token, made directly."""
    script = ACCOUNTS_SCRIPT.replace("COUNT", str(count)).replace("TAG", tag)
    result = run([PY, "manage.py", "shell", "-c", script], env, capture_output=True, text=True)
    target.write_text(result.stdout.strip().splitlines()[-1])
    return target


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("gunicorn stopped while starting")
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=5):
                return
        except OSError:
            time.sleep(0.3)
    sys.exit("gunicorn did not answer in time")


def worker_memory(master_pid: int) -> list[float]:
    children = subprocess.run(
        ["pgrep", "-P", str(master_pid)], capture_output=True, text=True
    ).stdout.split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


# Users arrive 10 a second; statistics are reset once all have arrived
# (--reset-stats), so the figures are the steady state at that many users.
SPAWN_RATE = 10


def ramp(users: int) -> int:
    return users // SPAWN_RATE + 3


def locust(hosts: list[str], users: int, duration: int, classes: list[str], prefix: Path,
           env: dict, accounts: list[Path]) -> list[dict]:  # fmt: skip
    """One phase: ``users`` split between the servers, a locust process each,
    at the same time; the rows of each request type, merged."""
    runs = []
    for index, host in enumerate(hosts):
        share = users // len(hosts) + (index < users % len(hosts))
        if share == 0:
            continue
        mine = Path(f"{prefix}-{index}")
        command = [
            PY, "-m", "locust", "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless",
            "--host", host, "--users", str(share), "--spawn-rate", str(SPAWN_RATE),
            "--run-time", f"{duration + ramp(users)}s", "--reset-stats", "--csv", str(mine),
            "--only-summary",
            "--loglevel", "WARNING", "--stop-timeout", "10", *classes,
        ]  # fmt: skip
        child_env = {
            **env,
            "LOADTEST_ACCOUNTS": str(accounts[index]),
            "LOADTEST_ACK_FILE": f"{env['LOADTEST_ACK_FILE']}.{index}",
        }
        log = open(f"{mine}.log", "wb")  # noqa: SIM115 - closed when the phase ends
        runs.append((mine, log, subprocess.Popen(
            command, cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT,
        )))  # fmt: skip
    merged: dict[str, dict] = {}
    for mine, log, process in runs:
        process.wait()
        log.close()
        with open(f"{mine}_stats.csv") as handle:
            for row in csv.DictReader(handle):
                empty = {"Request Count": 0, "Failure Count": 0, "Requests/s": 0.0}
                into = merged.setdefault(row["Name"], {**row, **empty})
                into["Request Count"] += int(row["Request Count"])
                into["Failure Count"] += int(row["Failure Count"])
                into["Requests/s"] += float(row["Requests/s"])
                for column in ("50%", "95%", "99%"):
                    into[column] = max(_ms(into[column]), _ms(row[column]))
    return list(merged.values())


def _ms(value) -> float:
    return float(value) if value not in ("", "N/A") else 0.0


def print_phase(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    header = f"{'request':32s} {'reqs':>6} {'fails':>5} {'req/s':>7}"
    print(f"  {header} {'p50':>6} {'p95':>6} {'p99':>6}  (ms)")
    for row in rows:
        if row["Name"].startswith("(setup)"):
            continue
        print(
            f"  {row['Name'][:32]:32s} {row['Request Count']:>6} {row['Failure Count']:>5} "
            f"{float(row['Requests/s']):7.1f} {_ms(row['50%']):>6.0f} {_ms(row['95%']):>6.0f} "
            f"{_ms(row['99%']):>6.0f}"
        )


def check_ratings(ack_files: list[Path], env: dict) -> str:
    acknowledged: dict[str, dict[str, int]] = {}
    for base in ack_files:
        for file in sorted(base.parent.glob(base.name + ".*")):
            if not file.name.removeprefix(base.name + ".").isdigit():
                continue  # a locust process's .uncertain or .lists file
            for user, ratings in json.loads(file.read_text()).items():
                acknowledged.setdefault(user, {}).update(ratings)
    script = (
        "import json,sys\n"
        "from ratings.models import Rating\n"
        "wanted=json.loads(sys.stdin.read())\n"
        "rows=list(Rating.objects.filter(user__username__in=list(wanted)).values_list("
        "'user__username','movie_id','value'))\n"
        "print(json.dumps(rows))\n"
    )
    found = subprocess.run(
        [PY, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, input=json.dumps(acknowledged),
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if not acknowledged:
        # A run whose writers never wrote would otherwise pass for a clean one.
        sys.exit("no rating was acknowledged: the writers did not write (see locust's log)")
    rows = json.loads(found.strip().splitlines()[-1])
    stored = {(u, str(m)): v for u, m, v in rows}
    wanted = {(u, m): v for u, ratings in acknowledged.items() for m, v in ratings.items()}
    missing = [k for k in wanted if k not in stored]
    wrong = [k for k in wanted if k in stored and stored[k] != wanted[k]]
    extra = [k for k in stored if k not in wanted]
    duplicates = len(rows) - len(stored)
    return (
        f"{len(wanted)} acknowledged ratings; in the database: {len(stored)}; "
        f"missing {len(missing)}, wrong value {len(wrong)}, unacknowledged {len(extra)}, "
        f"duplicated {duplicates}"
    )


def check_impressions(ack_files: list[Path], env: dict) -> str:
    """Every recommendation list answered 200 must be one impression in the
    database once the events are flushed: none lost, none doubled."""
    served: dict[str, int] = {}
    for base in ack_files:
        for file in sorted(base.parent.glob(base.name + ".*.lists")):
            for user, count in json.loads(file.read_text()).items():
                served[user] = served.get(user, 0) + count
    script = (
        "import json,sys\n"
        "from django.db.models import Count\n"
        "from events.models import Impression\n"
        "from events.services import events_flush\n"
        "events_flush()\n"
        "wanted=json.loads(sys.stdin.read())\n"
        "rows=Impression.objects.filter(user__username__in=wanted, surface__in=['panel','api'])"
        ".values_list('user__username').annotate(n=Count('pk'))\n"
        "print(json.dumps(dict(rows)))\n"
    )
    found = subprocess.run(
        [PY, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, input=json.dumps(list(served)),
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    written = json.loads(found.strip().splitlines()[-1])
    missing = sum(max(0, n - written.get(u, 0)) for u, n in served.items())
    extra = sum(max(0, written.get(u, 0) - n) for u, n in served.items())
    return (
        f"{sum(served.values())} lists served to {len(served)} members; impressions written "
        f"{sum(written.values())}; missing {missing}, extra {extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "ml-100k",
                        help="ml-100k-layout directory to fill PostgreSQL from")  # fmt: skip
    parser.add_argument("--servers", type=int, choices=[1, 2, 3, 4], default=1)
    parser.add_argument("--duration", type=int, default=30, help="seconds per phase (max 300)")
    parser.add_argument("--users", default="1,10,50")
    parser.add_argument("--faults", action="store_true", help="the soak with faults injected")
    args = parser.parse_args()
    if args.faults:
        import soak

        seconds = args.duration if args.duration != 30 else 660
        soak.main(seconds, args.data)
        return
    duration = max(5, min(args.duration, 300))
    work = Path(tempfile.mkdtemp(prefix="loadtest-"))
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "load-test-only-key"),
        "DATA_DIR": str(work / "data"),
        "MODELS_DIR": os.environ.get("MODELS_DIR", str(ROOT / "models")),
        "STATIC_ROOT": str(work / "static"),
        "LOG_LEVEL": "WARNING",
        # Thousands of sign-ups from one address are the test, not abuse.
        "RATE_LIMIT_SIGNUP": "0",
        "RATE_LIMIT_LOGIN": "0",
    }
    env = prepare_database(args.database, work, env, args.data)
    run([PY, "manage.py", "collectstatic", "--noinput", "-v0"], env)
    users_per_phase = [int(u) for u in args.users.split(",") if u]
    per_server = max([50, *users_per_phase]) // args.servers + 10
    accounts = [
        prepare_accounts(env, per_server, work / f"accounts-{i}.json", f"s{i}")
        for i in range(args.servers)
    ]
    ports = [free_port() for _ in range(args.servers)]
    hosts = [f"http://127.0.0.1:{port}" for port in ports]
    print(f"{args.servers} gunicorn instance(s) on {', '.join(hosts)} ({args.database}; "
          f"cache {env.get('CACHE_URL', 'locmem://')}; models {env['MODELS_DIR']}); "
          f"{duration} s per phase")  # fmt: skip
    logs, servers = [], []
    for index, port in enumerate(ports):
        logs.append(open(work / f"gunicorn-{index}.log", "wb"))  # noqa: SIM115 - closed below
        server_env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="metrics-", dir=work),
        }
        servers.append(subprocess.Popen(
            [PY, "-m", "gunicorn", "--config", "gunicorn.conf.py", "recommender.wsgi"],
            cwd=ROOT, env=server_env, stdout=logs[-1], stderr=subprocess.STDOUT,
        ))  # fmt: skip
    ack_files = []

    def phase(name: str, users: int, seconds: int, classes: list[str]) -> list[dict]:
        ack = work / f"ack-{name}.json"
        ack_files.append(ack)
        return locust(hosts, users, seconds, classes, work / name,
                      {**env, "LOADTEST_ACK_FILE": str(ack)}, accounts)  # fmt: skip

    try:
        for host, server in zip(hosts, servers, strict=True):
            wait_until_up(host, server)
        # Connections, caches and the first-use costs of each worker; not measured.
        warm = phase("warmup", 4 * args.servers, 8, ["ApiClient"])
        print(f"warm-up: {sum(int(r['Request Count']) for r in warm)} requests")
        for users in users_per_phase:
            rows = phase(f"mixed-{users}", users, duration, ["Member", "ApiClient"])
            print_phase(f"{users} concurrent users (members and API clients)", rows)
        rows = phase("writers", 50, duration, ["Writer"])
        print_phase("50 concurrent writers (about one rating a second each)", rows)
        rows = phase("newcomers", 5, duration, ["Newcomer", "ApiNewcomer"])
        print_phase("5 newcomers signing up (a password hash each: PBKDF2)", rows)
        for index, server in enumerate(servers):
            memory = worker_memory(server.pid)
            print(f"\nresident memory per gunicorn worker of instance {index}: "
                  + ", ".join(f"{m:.0f} MiB" for m in memory))  # fmt: skip
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            server.wait(30)
        for log in logs:
            log.close()
    print("ratings: " + check_ratings(ack_files, env))
    print("impressions: " + check_impressions(ack_files, env))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
