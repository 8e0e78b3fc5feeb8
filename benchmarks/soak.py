"""A soak with faults injected under load (``benchmarks/loadtest.py --faults``).

    .venv/bin/pip install -e ".[load]"      # locust, once
    .venv/bin/python benchmarks/loadtest.py --faults [--duration 660] [--data DIR]

Everything it runs is its own and on loopback: a throwaway PostgreSQL
cluster (initdb on a free port, as the `postgres` user when run as root),
its own Redis (no persistence, as docker-compose.yml runs it), two gunicorn
instances sharing them, the Celery worker and the refresh worker started
with the commands docker-compose.yml runs, and the models' directory on a
tmpfs of fixed size that it mounts (as root; without it the disk fault is
reported "not run"). 50 members read and rate (locust, 25 per instance) for
``--duration`` seconds while, on a fixed schedule, it:

  1. restarts PostgreSQL (pg_ctl restart -m fast);
  2. restarts Redis (its cache and broker: queued messages are lost);
  3. kill -9s one gunicorn worker (the master replaces it);
  4. sends a retrain storm: 20 "Retrain now" from the admin in one second;
  5. kill -9s the Celery worker's main process while a training run is
     running, then starts it again with its documented command (what the
     compose restart policy does) and reports how long it took to be ready;
  6. fills the models' filesystem until a publish fails, then frees it.

Reported per fault: requests failed while it lasted (a failure is a 5xx, a
connection error or an answer slower than 5 s) and seconds from the fault
until the last of them. At the end: every acknowledged rating stored with
the value last acknowledged (a write whose answer never came may or may not
be there), movie counters equal to the ratings table, `current` pointing at
a complete version, never two training runs at once, every process alive.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
SLOW_SECONDS = 5.0
USERS = 50
TMPFS_MIB = 400
# The documented worker commands (docker-compose.yml's worker and refresher).
WORKER = ["-m", "celery", "-A", "recommender", "worker", "--beat", "--queues", "celery,training",
          "--concurrency", "1", "--loglevel", "INFO"]  # fmt: skip
REFRESHER = ["-m", "celery", "-A", "recommender", "worker", "--queues", "refresh",
             "--hostname", "refresh@%h", "--concurrency", "1", "--loglevel", "INFO"]  # fmt: skip


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Postgres:
    """A throwaway cluster: initdb on a free loopback port, trust auth."""

    def __init__(self, work: Path):
        if PG_BIN is None:
            sys.exit("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
        self.dir, self.port = work / "pg", free_port()
        self.log = work / "postgres.log"
        self.user = "postgres" if os.geteuid() == 0 else None
        self.dir.mkdir()
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (work, self.dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._as_owner([str(PG_BIN / "initdb"), "-D", str(self.dir), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8"], quiet=True)  # fmt: skip
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/recommender"

    def _as_owner(self, command: list[str], quiet: bool = False) -> None:
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        output = subprocess.DEVNULL if quiet else None
        subprocess.run(command, check=True, stdout=output)

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c max_connections=200"
        )
        self._as_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-l", str(self.log), "-w",
                        "-o", options, action, *extra], quiet=True)  # fmt: skip

    def start(self) -> None:
        self._ctl("start")
        self._as_owner([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", "recommender"])  # fmt: skip

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._ctl("stop", "-m", "fast")

    def query(self, sql: str) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url.replace("postgres://", "postgresql://")) as conn:
            return conn.execute(sql).fetchall()


class Redis:
    """Its own Redis on a free loopback port, without persistence."""

    def __init__(self, work: Path):
        self.port, self.log = free_port(), work / "redis.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                                  capture_output=True, text=True)  # fmt: skip
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        sys.exit("redis did not start")

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class Tmpfs:
    """A filesystem of fixed size for MODELS_DIR, and a way to fill it."""

    def __init__(self, path: Path, mib: int):
        self.path, self.mounted = path, False
        path.mkdir(parents=True)
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(path)],
                                capture_output=True, text=True)  # fmt: skip
        self.mounted = result.returncode == 0
        self.why = result.stderr.strip()
        self.filler = path / ".filler"

    def fill(self, leave_bytes: int) -> None:
        free = shutil.disk_usage(self.path).free
        with open(self.filler, "wb") as handle:
            chunk = b"\0" * (1 << 20)
            remaining = max(0, free - leave_bytes)
            with contextlib.suppress(OSError):
                while remaining > 0:
                    remaining -= handle.write(chunk[: min(len(chunk), remaining)])

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=False)


@dataclass
class Fault:
    name: str
    started: float
    note: str = ""


def run(command: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, check=True, **kwargs)


def shell(env: dict, script: str) -> str:
    return run([PY, "manage.py", "shell", "-c", script], env, capture_output=True,
               text=True).stdout  # fmt: skip


STAFF_SCRIPT = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from accounts.models import User
user = User.objects.create_superuser("soak-curator", password="soak curator passphrase 42")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def retrain_storm(host: str, session: str, count: int = 20) -> list[int]:
    """``count`` clicks on the admin's "Retrain now" within one second."""
    import requests

    client = requests.Session()
    client.cookies.set("sessionid", session)
    page = client.get(f"{host}/admin/gnn/trainingrun/", timeout=30)
    token = client.cookies.get("csrftoken") or re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text
    ).group(1)
    codes = []
    started = time.monotonic()
    for _ in range(count):
        answer = client.post(
            f"{host}/admin/gnn/trainingrun/retrain/",
            data={"csrfmiddlewaretoken": token},
            headers={"Referer": f"{host}/admin/gnn/trainingrun/"},
            allow_redirects=False,
            timeout=30,
        )
        codes.append(answer.status_code)
        time.sleep(max(0.0, (1.0 / count) - 0.001))
    if time.monotonic() - started > 2:
        say("the storm took longer than a second: the server was slow to answer")
    return codes


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and " Z " not in Path(f"/proc/{pid}/stat").read_text()


def wait_for_text(path: Path, pattern: str, since: int, timeout: float) -> float | None:
    """Seconds until ``pattern`` appears in ``path`` after byte ``since``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with contextlib.suppress(FileNotFoundError), open(path, "rb") as handle:
            handle.seek(since)
            if re.search(pattern.encode(), handle.read()):
                return time.monotonic() - started
        time.sleep(0.25)
    return None


def failures(events: list[tuple], start: float, end: float) -> tuple[int, int, float | None]:
    """(requests, failed, seconds from ``start`` to the last failure) in [start, end)."""
    window = [e for e in events if start <= e[0] < end]
    failed = [e for e in window if e[2] == 0 or e[2] >= 500 or e[3] > SLOW_SECONDS * 1000]
    last = max((e[0] + e[3] / 1000 for e in failed), default=None)
    return len(window), len(failed), (last - start if last is not None else None)


def read_events(work: Path) -> list[tuple]:
    events = []
    for file in work.glob("events-*.csv"):
        for line in file.read_text().splitlines():
            head, status, ms = line.rsplit(",", 2)
            started, name = head.split(",", 1)
            events.append((float(started), name, int(status), float(ms)))
    return sorted(events)


CHECKS_SCRIPT = """
import json
from django.conf import settings
from django.db import connection
from gnn.bridge import registry, weights
out = {}
with connection.cursor() as cursor:
    cursor.execute('''
        SELECT count(*) FROM catalog_movie m LEFT JOIN (
            SELECT movie_id, count(*) AS c, sum(value) AS s,
                   sum(CASE WHEN value >= 4 THEN 1 ELSE 0 END) AS l
            FROM ratings_rating GROUP BY movie_id) r ON r.movie_id = m.id
        WHERE m.rating_count <> coalesce(r.c, 0) OR m.rating_sum <> coalesce(r.s, 0)
           OR m.liked_count <> coalesce(r.l, 0)''')
    out["movies_with_wrong_counts"] = cursor.fetchone()[0]
    cursor.execute('''
        SELECT count(*) FROM gnn_trainingrun a JOIN gnn_trainingrun b ON a.id < b.id
        WHERE a.started_at IS NOT NULL AND b.started_at IS NOT NULL
          AND a.started_at < coalesce(b.finished_at, now())
          AND b.started_at < coalesce(a.finished_at, now())''')
    out["overlapping_runs"] = cursor.fetchone()[0]
    cursor.execute("SELECT status, count(*) FROM gnn_trainingrun GROUP BY status ORDER BY status")
    out["runs"] = dict(cursor.fetchall())
    cursor.execute("SELECT id, status, error FROM gnn_trainingrun ORDER BY id")
    out["run_list"] = [list(r) for r in cursor.fetchall()]
served = registry.served(settings.MODELS_DIR)
try:
    loaded, serving = registry.load_serving(settings.MODELS_DIR, served.version)
    registry.verify_file(loaded, registry.MODEL_FILE)
    out["current"] = served.version + " (complete: arrays, weights and metadata verified)"
except Exception as exc:
    out["current"] = "BROKEN: " + str(exc)
out["versions"] = [v.version for v in registry.list_versions(settings.MODELS_DIR)]
print(json.dumps(out, default=str))
"""


def check_ratings(work: Path, env: dict) -> dict:
    acknowledged: dict[str, dict[str, int]] = {}
    unsure: dict[str, dict[str, list[int]]] = {}
    for file in sorted(work.glob("ack-*")):
        data = json.loads(file.read_text())
        target = unsure if file.name.endswith(".uncertain") else acknowledged
        for user, ratings in data.items():
            target.setdefault(user, {}).update(ratings)
    script = (
        "import json,sys\nfrom ratings.models import Rating\n"
        "wanted=json.loads(sys.stdin.read())\n"
        "rows=list(Rating.objects.filter(user__username__in=wanted).values_list("
        "'user__username','movie_id','value'))\nprint(json.dumps(rows))\n"
    )
    users = sorted(set(acknowledged) | set(unsure))
    found = subprocess.run(
        [PY, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        input=json.dumps(users),
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(found.stdout.strip().splitlines()[-1])
    stored = {(u, str(m)): v for u, m, v in rows}
    lost, wrong = 0, 0
    for user, ratings in acknowledged.items():
        for movie, value in ratings.items():
            maybe = unsure.get(user, {}).get(movie, [])
            if (user, movie) not in stored:
                lost += 1
            elif stored[(user, movie)] != value and stored[(user, movie)] not in maybe:
                wrong += 1
    return {
        "acknowledged": sum(len(r) for r in acknowledged.values()),
        "uncertain_writes": sum(len(v) for r in unsure.values() for v in r.values()),
        "lost": lost,
        "wrong_value": wrong,
        "stored_for_these_members": len(stored),
    }


def main(duration: int, data: Path) -> None:
    duration = max(600, min(duration, 1800))
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    os.chmod(work, 0o755)
    say(f"working in {work}")
    postgres, redis = Postgres(work), Redis(work)
    tmpfs = Tmpfs(work / "models", TMPFS_MIB)
    if not tmpfs.mounted:
        say(f"no tmpfs ({tmpfs.why}): the disk fault will be reported not run")
    processes: list[subprocess.Popen] = []
    logs: list = []
    try:
        postgres.start()
        redis.start()
        env = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            "DEBUG": "false", "SECRET_KEY": "soak-only-key", "READ_DOTENV": "false",
            "DATABASE_URL": postgres.url, "CACHE_URL": f"redis://127.0.0.1:{redis.port}/1",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis.port}/0",
            "DATA_DIR": str(work / "data"), "MODELS_DIR": str(work / "models"),
            "STATIC_ROOT": str(work / "static"), "LOG_LEVEL": "INFO", "LOG_FORMAT": "plain",
            "RATE_LIMIT_SIGNUP": "0", "RATE_LIMIT_LOGIN": "0",
            # Short runs: the point is what a fault does to one, not the model.
            "TRAINING_MAX_STEPS": "150", "RETRAIN_AFTER_RATINGS": "4000",
            "TRAINING_STALE_SECONDS": "60", "TRAINING_RESEND_SECONDS": "30",
            "REFRESH_EVERY_SECONDS": "30", "WEB_CONCURRENCY": "2",
            "TORCH_THREADS_TRAINING": "1", "DB_CONNECT_TIMEOUT": "3",
        }  # fmt: skip
        say("migrating, importing MovieLens and training a first model")
        run([PY, "manage.py", "migrate", "--noinput", "-v0"], env)
        run([PY, "manage.py", "seed_movielens", "--source", str(data)], env,
            stdout=subprocess.DEVNULL)  # fmt: skip
        run([PY, "manage.py", "collectstatic", "--noinput", "-v0"], env)
        run([PY, "manage.py", "train_model", "-v0"], env)
        from loadtest import prepare_accounts

        accounts = [prepare_accounts(env, USERS // 2 + 10, work / f"accounts-{i}.json", f"s{i}")
                    for i in range(2)]  # fmt: skip
        staff_session = shell(env, STAFF_SCRIPT).strip().splitlines()[-1]

        def start(name: str, command: list[str], extra: dict | None = None) -> subprocess.Popen:
            log = open(work / f"{name}.log", "ab")  # noqa: SIM115 - closed at the end
            logs.append(log)
            process = subprocess.Popen([PY, *command], cwd=ROOT, env={**env, **(extra or {})},
                                       stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
            processes.append(process)
            return process

        ports = [free_port(), free_port()]
        hosts = [f"http://127.0.0.1:{p}" for p in ports]
        web = [
            start(f"gunicorn-{i}", ["-m", "gunicorn", "--config", "gunicorn.conf.py",
                                    "recommender.wsgi"],
                  {"GUNICORN_BIND": f"127.0.0.1:{port}",
                   "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(dir=work)})
            for i, port in enumerate(ports)
        ]  # fmt: skip
        worker_command = [*WORKER, "--schedule", str(work / "celerybeat-schedule")]
        worker = start("worker", worker_command)
        refresher = start("refresher", REFRESHER)
        for host in hosts:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(host + "/api/health", timeout=5)
                    break
                time.sleep(0.5)
        wait_for_text(work / "worker.log", r"ready\.", 0, 60)

        say(f"load: {USERS} members for {duration} s on {' and '.join(hosts)}")
        t0 = time.time()
        locusts = []
        for index, host in enumerate(hosts):
            command = [
                "-m", "locust", "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless",
                "--host", host, "--users", str(USERS // 2), "--spawn-rate", "10",
                "--run-time", f"{duration}s", "--only-summary", "--loglevel", "WARNING",
                "--stop-timeout", "10", "Member", "ApiClient", "Writer",
            ]  # fmt: skip
            locusts.append(start(f"locust-{index}", command, {
                "LOADTEST_ACCOUNTS": str(accounts[index]),
                "LOADTEST_ACK_FILE": str(work / f"ack-{index}"),
                "LOADTEST_EVENTS": str(work / f"events-{index}.csv"),
            }))  # fmt: skip

        def at(offset: float) -> None:
            time.sleep(max(0.0, t0 + offset - time.time()))

        faults: list[Fault] = []

        def restart(offset: float, name: str, why: str, service) -> None:
            at(offset)
            say(f"fault: restarting {why}")
            fault = Fault(f"{name} restarted", time.time())
            service.restart()
            fault.note = f"down {time.time() - fault.started:.1f} s"
            faults.append(fault)

        restart(60, "PostgreSQL", "PostgreSQL", postgres)
        restart(150, "Redis", "Redis (cache and broker, no persistence)", redis)

        at(240)
        victim = children(web[0].pid)[0]
        say(f"fault: kill -9 gunicorn worker {victim}")
        fault = Fault("a gunicorn worker killed (-9)", time.time())
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(children(web[0].pid)) < 2:
            time.sleep(0.2)
        fault.note = f"replaced by the master in {time.time() - fault.started:.1f} s"
        faults.append(fault)

        at(300)
        say("fault: a retrain storm, 20 clicks on Retrain now in one second")
        fault = Fault("retrain storm (20 in 1 s)", time.time())
        codes = retrain_storm(hosts[1], staff_session)
        queued = postgres.query("SELECT count(*) FROM gnn_trainingrun WHERE trigger = 'admin'")
        fault.note = f"answers {sorted(set(codes))}; runs queued by them: {queued[0][0]}"
        faults.append(fault)

        say("fault: waiting for the run to be running, then kill -9 the worker's main process")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            running = postgres.query("SELECT id FROM gnn_trainingrun WHERE status = 'running'")
            if running:
                break
            time.sleep(1)
        time.sleep(10)  # in the middle of it
        pool = children(worker.pid)
        fault = Fault("Celery worker killed (-9) mid-training", time.time())
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        time.sleep(2)
        orphans = [pid for pid in pool if alive(pid)]
        mark = (work / "worker.log").stat().st_size
        worker = start("worker", worker_command)
        ready = wait_for_text(work / "worker.log", r"ready\.", mark, 120)
        fault.note = (
            f"run {running[0][0] if running else '?'} was running; pool processes left "
            f"behind: {len(orphans)}; restarted with the documented command, ready in "
            f"{ready:.1f} s"
            if ready is not None
            else "not ready after 120 s"
        )
        faults.append(fault)

        at(max(time.time() - t0 + 5, 450))
        if tmpfs.mounted:
            say("fault: filling the models' filesystem until a publish fails")
            fault = Fault("models' filesystem full", time.time())
            mark = (work / "refresher.log").stat().st_size
            tmpfs.fill(leave_bytes=2 << 20)
            failed = wait_for_text(work / "refresher.log", r"No space left on device", mark, 120)
            tmpfs.free()
            fault.note = (
                f"a refresh's publish failed {failed:.0f} s after; space freed then"
                if failed is not None else "no publish failed within 120 s; space freed"
            )  # fmt: skip
            faults.append(fault)
        else:
            faults.append(
                Fault("models' filesystem full", time.time(), note="not run: " + tmpfs.why)
            )

        for process in locusts:
            process.wait()
        end = time.time()
        say("load over; checking")
        events = read_events(work)
        starts = [f.started for f in faults] + [end]
        print(f"\n{len(events)} requests in {end - t0:.0f} s; a failure: 5xx, no answer, "
              f"or slower than {SLOW_SECONDS:.0f} s")  # fmt: skip
        requests, failed, _ = failures(events, t0, faults[0].started)
        print(f"  before any fault: {requests} requests, {failed} failed")
        for fault, next_start in zip(faults, starts[1:], strict=True):
            requests, failed, last = failures(events, fault.started, next_start)
            until = f"{last:.1f} s" if last is not None else "none failed"
            print(f"  {fault.name:42s} +{fault.started - t0:5.0f} s  {requests:6d} requests, "
                  f"{failed:5d} failed; last failure after {until}; {fault.note}")  # fmt: skip
        statuses: dict[int, int] = {}
        for event in events:
            if event[2] >= 400 or event[2] == 0:
                statuses[event[2]] = statuses.get(event[2], 0) + 1
        print(f"  error answers by status over the run: {dict(sorted(statuses.items()))}")
        print("ratings: " + json.dumps(check_ratings(work, env)))
        checks = json.loads(shell(env, CHECKS_SCRIPT).strip().splitlines()[-1])
        print("checks: " + json.dumps({k: v for k, v in checks.items() if k != "run_list"}))
        for run_row in checks["run_list"]:
            print(f"  run {run_row[0]}: {run_row[1]} {(run_row[2] or '')[:100]}")
        status = {
            "gunicorn masters": [p.poll() is None for p in web],
            "gunicorn workers per master": [len(children(p.pid)) for p in web],
            "celery worker": worker.poll() is None,
            "refresh worker": refresher.poll() is None,
        }
        print("alive: " + json.dumps(status))
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(30)
        for log in logs:
            log.close()
        redis.stop()
        postgres.stop()
        tmpfs.unmount()
        print(f"logs kept in {work}")
