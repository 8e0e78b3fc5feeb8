"""The synthetic datasets: the committed fixture reproduced byte for byte, and
scale datasets in MovieLens' layout that the import reads."""

import importlib.util
from pathlib import Path

from core import movielens

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "make_synthetic", ROOT / "fixtures" / "make_synthetic.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_sizes_it_writes_the_committed_fixture_byte_for_byte():
    made = _generator().make()
    for name, text in made.items():
        assert (ROOT / "fixtures" / "ml-synthetic" / name).read_bytes() == text.encode("ascii"), (
            name
        )


def test_a_scale_dataset_has_the_sizes_asked_for_and_reads_like_movielens(tmp_path):
    generator = _generator()
    generator.main(["--users", "300", "--movies", "200", "--ratings", "12000", "--seed", "3",
                    "--out", str(tmp_path)])  # fmt: skip
    dataset = movielens.parse(movielens.read_directory(tmp_path), "scale")
    assert (len(dataset.users), len(dataset.movies)) == (300, 200)
    assert 11_000 <= len(dataset.ratings) <= 13_000
    per_user = {}
    for user, *_ in dataset.ratings.tolist():
        per_user[user] = per_user.get(user, 0) + 1
    assert min(per_user.values()) >= 20  # as MovieLens: every member rated at least 20
    assert max(per_user.values()) > 5 * min(per_user.values())  # heavy-tailed activity
    # Deterministic per seed.
    again = generator.make_scaled(300, 200, 12000, 3)
    assert again["u.data"] == (tmp_path / "u.data").read_text()
