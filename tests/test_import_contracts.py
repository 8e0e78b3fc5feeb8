"""The import contracts of pyproject.toml hold, and they catch a wrong import."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "accounts", "catalog", "ratings", "gnn", "recommender")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True)


def copy_of_the_tree(dest: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", dest)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return dest


def test_the_committed_code_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_django_in_the_ml_package_breaks_its_contract(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    module = tree / "gnn" / "ml" / "data.py"
    module.write_text("import django.conf  # noqa: F401\n" + module.read_text())
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "gnn.ml is plain science" in result.stdout and "BROKEN" in result.stdout
    assert "gnn.ml.data -> django" in result.stdout


def test_an_app_importing_the_root_breaks_the_layers(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    module = tree / "ratings" / "services.py"
    module.write_text(module.read_text() + "\nfrom recommender import collectors  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "ratings is not allowed to import recommender" in result.stdout
