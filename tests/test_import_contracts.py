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


def test_a_page_of_a_lower_app_reading_gnn_breaks_the_layers(tmp_path):
    """Composing pages live in the root: an app's own view that reads a higher
    app's selectors is refused (no exception for *.views any more)."""
    tree = copy_of_the_tree(tmp_path)
    (tree / "catalog" / "views.py").write_text("from gnn.selectors import movies_similar_to\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "catalog is not allowed to import gnn" in result.stdout


def test_the_science_importing_the_django_side_breaks_the_gnn_layers(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    module = tree / "gnn" / "ml" / "features.py"
    module.write_text(module.read_text() + "\nfrom gnn.bridge import registry  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "gnn.ml is not allowed to import gnn.bridge" in result.stdout


def test_a_new_app_module_is_covered_without_editing_a_list(tmp_path):
    """The Django side reaching up into any module of gnn's app, one that did
    not exist when the contract was written included, is refused."""
    tree = copy_of_the_tree(tmp_path)
    (tree / "gnn" / "experiments.py").write_text("ARMS = 2\n")
    module = tree / "gnn" / "bridge" / "engine.py"
    module.write_text(module.read_text() + "\nfrom gnn import experiments  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "never reach up into gnn's app" in result.stdout and "BROKEN" in result.stdout
    assert "gnn.bridge.engine -> gnn.experiments" in result.stdout
