"""What the Docker image and its start-up do, checked without a Docker engine:
the build context the ignore file leaves, the image's settings, and the entry
point and bootstrap run as the containers run them."""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC = ROOT / "fixtures" / "ml-synthetic"


def _rules():
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        for part in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
            regex += {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                part, re.escape(part)
            )
        rules.append((keep, re.compile(regex)))
    return rules


def _ignored(path: str, rules) -> bool:
    """Docker's rule: the last matching line wins; a line matching a
    directory covers everything under it."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for keep, regex in rules:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            verdict = not keep
    return verdict


def test_the_build_context_leaves_out_local_state_and_keeps_the_project():
    rules = _rules()
    local_state = [
        ".env", ".env.production", "data/db.sqlite3", "data/ml-100k/u.data",
        "models/current", "models/versions/1/model.pt", ".venv/bin/python",
        ".git/HEAD", "gnn/__pycache__/x.cpython-311.pyc", "staticfiles/app.css",
    ]  # fmt: skip
    assert [p for p in local_state if not _ignored(p, rules)] == []

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    packages = {"core", "recommender", "accounts", "catalog", "ratings", "gnn"}
    packages |= {"templates", "static", "scripts"}
    needed = [p for p in tracked if p.split("/")[0] in packages]
    needed += ["manage.py", "pyproject.toml", "gunicorn.conf.py", "README.md", ".env.example"]
    assert [p for p in needed if _ignored(p, rules)] == []


def _image_env() -> dict[str, str]:
    """The ENV lines of the Dockerfile, as the image's processes see them."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    # As Docker reads it: comment lines dropped, continued lines joined.
    text = "\n".join(line for line in lines if not line.strip().startswith("#"))
    env = {}
    for line in text.replace("\\\n", " ").splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line[4:]))
    return env


def _settings_in(tmp_path, extra_env) -> str:
    for package in ("core", "recommender"):
        shutil.copytree(ROOT / package, tmp_path / package)
    (tmp_path / ".env").write_text("DEBUG=true\nALLOWED_HOSTS=*\n")
    env = {
        "PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path),
        "SECRET_KEY": "x" * 50, "DJANGO_SETTINGS_MODULE": "recommender.settings",
        **extra_env,
    }  # fmt: skip
    code = "import django.conf as c; print(c.settings.DEBUG, c.settings.ALLOWED_HOSTS)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip


def test_the_image_ignores_a_stray_env_file(tmp_path):
    image = {k: v for k, v in _image_env().items() if k == "READ_DOTENV"}
    assert image == {"READ_DOTENV": "false"}
    assert _settings_in(tmp_path / "image", image) == "False ['127.0.0.1', 'localhost']"
    # A development checkout still reads it (the check above can fail).
    assert _settings_in(tmp_path / "checkout", {}) == "True ['*']"


def _manage_env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CACHE_"))}
    env.update(
        DEBUG="true", READ_DOTENV="false",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DATA_DIR=str(tmp_path / "data"), MODELS_DIR=str(tmp_path / "models"),
        MOVIELENS_SOURCE=str(SYNTHETIC), TRAINING_MAX_STEPS="30", LOG_FORMAT="plain",
    )  # fmt: skip
    env.update(extra)
    return env


def test_two_containers_starting_together_bootstrap_once(tmp_path):
    env = _manage_env(tmp_path)
    command = [sys.executable, "manage.py", "bootstrap"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    starts = [subprocess.Popen(command, cwd=ROOT, env=env, **pipes) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in starts]
    assert [p.returncode for p in starts] == [0, 0], outputs

    versions = list((tmp_path / "models" / "versions").iterdir())
    assert len(versions) == 1, outputs
    assert sum("Training a first model" in out for out in outputs) == 1, outputs
    assert sum("already imported" in out for out in outputs) == 1, outputs


def test_the_entry_point_keeps_retrying_while_bootstrap_cannot_import(tmp_path):
    env = _manage_env(tmp_path, MOVIELENS_SOURCE=str(tmp_path / "no-such-download"))
    start = subprocess.Popen(
        ["sh", str(ROOT / "scripts" / "container-start"), "echo", "serving"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        output = ""
        while time.monotonic() < deadline and output.count("bootstrap failed") < 2:
            line = start.stdout.readline()
            if not line:
                break
            output += line
        assert start.poll() is None, output  # still up (and unhealthy), not exited
        assert output.count("bootstrap failed; trying again") >= 2, output
        assert "serving" not in output
    finally:
        start.kill()
        start.wait()


@pytest.mark.parametrize("name", ["container-start", "healthcheck"])
def test_the_image_scripts_are_executable(name):
    assert os.access(ROOT / "scripts" / name, os.X_OK)
