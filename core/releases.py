"""MovieLens's later releases, read in chunks: 10M's ``::``-separated
``ratings.dat`` and ``movies.dat``, and 20M/25M/32M's ``ratings.csv`` and
``movies.csv`` (``userId,movieId,rating,timestamp``).

They rate in half stars from 0.5 to 5; the site rates 1 to 5, so a value is
rounded half up (0.5 -> 1, 3.5 -> 4, 4.5 -> 5). They carry no age, gender,
occupation or zip code: their members are imported without demographics.
Ratings are never held as one Python object each: the files are parsed in
blocks by pandas' C parser into int64 arrays.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.movielens import MovieLensError, MovieRecord, UserRecord, clean_title
from core.vocabularies import GENRES

LAYOUTS = {
    "10m": ("ratings.dat", "movies.dat"),
    "csv": ("ratings.csv", "movies.csv"),
}
BLOCK_BYTES = 64 * 1024 * 1024
# Names of the later releases that differ from 100K's genres; IMAX has no
# counterpart and is left out.
_GENRE_NAMES = {"Children": "Children's", "(no genres listed)": "unknown"}
_GENRE_POSITION = {name: i for i, name in enumerate(GENRES)}


def detect(path: Path) -> str | None:
    """The later layout a directory holds ('10m' or 'csv'), or None."""
    for layout, names in LAYOUTS.items():
        if all((path / name).is_file() for name in names):
            return layout
    return None


def round_half_up(values: np.ndarray) -> np.ndarray:
    """Half stars to the 1-5 scale: 0.5 -> 1, 3.5 -> 4, 5 -> 5."""
    return np.clip(np.floor(values + 0.5), 1, 5).astype(np.int64)


def _genres(text: str) -> tuple[int, ...]:
    positions = set()
    for name in text.split("|"):
        name = _GENRE_NAMES.get(name.strip(), name.strip())
        if name in _GENRE_POSITION:
            positions.add(_GENRE_POSITION[name])
    return tuple(sorted(positions))


def _movie_rows(path: Path, layout: str) -> Iterator[tuple[int, list[str]]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # 10M's movies.dat predates UTF-8 there
    if layout == "csv":
        rows = csv.reader(io.StringIO(text))
        next(rows, None)  # the header
        yield from enumerate(rows, start=2)
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield number, line.split("::")


def read_movies(path: Path, layout: str) -> list[MovieRecord]:
    movies, seen = [], set()
    for number, cells in _movie_rows(path, layout):
        where = f"{path.name} line {number}"
        if len(cells) != 3:
            raise MovieLensError(f"{where}: expected movie id, title and genres")
        try:
            movie_id = int(cells[0])
        except ValueError:
            raise MovieLensError(f"{where}: movie id {cells[0]!r} is not a whole number") from None
        if movie_id <= 0 or movie_id in seen:
            raise MovieLensError(f"{where}: movie id {movie_id} is not positive and unique")
        seen.add(movie_id)
        title, year = clean_title(cells[1])
        movies.append(MovieRecord(movie_id, title[:255], None, year, "", _genres(cells[2])))
    if not movies:
        raise MovieLensError(f"{path.name} holds no movies")
    return movies


@dataclass
class LaterRelease:
    """A later release: its movies, the members its ratings name, and its
    ratings read again block by block."""

    directory: Path
    layout: str
    movies: list[MovieRecord]
    user_ids: np.ndarray  # sorted MovieLens ids of the members who rated
    n_ratings: int

    @property
    def origin(self) -> str:
        return str(self.directory)

    @property
    def users(self) -> list[UserRecord]:
        return [UserRecord(int(i), None, "", "", "") for i in self.user_ids.tolist()]

    def rating_blocks(self) -> Iterator[np.ndarray]:
        """int64 [n, 4] blocks: member id, movie id, value 1-5, unix time."""
        return _rating_blocks(self.directory / LAYOUTS[self.layout][0], self.layout, None)


def read_later_release(directory: Path, layout: str) -> LaterRelease:
    """Parse the movies and check every rating once (ids known, values
    0.5-5 in halves, times not negative), remembering who rated."""
    movies = read_movies(directory / LAYOUTS[layout][1], layout)
    known = np.array(sorted(m.movielens_id for m in movies), dtype=np.int64)
    users, count = [], 0
    for block in _rating_blocks(directory / LAYOUTS[layout][0], layout, known):
        users.append(np.unique(block[:, 0]))
        count += len(block)
    if not count:
        raise MovieLensError(f"{LAYOUTS[layout][0]} holds no ratings")
    return LaterRelease(directory, layout, movies, np.unique(np.concatenate(users)), count)


def _blocks_of_lines(path: Path, skip_header: bool) -> Iterator[tuple[int, bytes]]:
    """(number of the block's first line, whole lines) of about BLOCK_BYTES."""
    line = 1
    with open(path, "rb") as handle:
        if skip_header:
            handle.readline()
            line = 2
        rest = b""
        while chunk := handle.read(BLOCK_BYTES):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            if cut:
                chunk, rest = chunk[:cut], chunk[cut:]
                yield line, chunk
                line += chunk.count(b"\n")
            else:
                rest = chunk
        if rest.strip():
            raise MovieLensError(f"{path.name} ends in the middle of line {line} (truncated?)")


def _rating_blocks(path: Path, layout: str, known: np.ndarray | None) -> Iterator[np.ndarray]:
    import pandas as pd

    for first, block in _blocks_of_lines(path, skip_header=layout == "csv"):
        text = block.replace(b"::", b"\t") if layout == "10m" else block
        try:
            frame = pd.read_csv(
                io.BytesIO(text), sep="\t" if layout == "10m" else ",", header=None,
                names=["user", "movie", "value", "time"], engine="c", na_filter=False,
                dtype={"user": np.int64, "movie": np.int64, "value": np.float64,
                       "time": np.int64},
            )  # fmt: skip
        except (ValueError, pd.errors.ParserError) as exc:
            raise MovieLensError(
                f"{path.name}, lines from {first}: not four numbers on every line ({exc})"
            ) from None
        values = frame["value"].to_numpy()
        halves = values * 2
        bad = (values < 0.5) | (values > 5) | (halves != np.round(halves))
        bad |= frame["time"].to_numpy() < 0
        movies = frame["movie"].to_numpy()
        if known is not None:
            bad |= ~np.isin(movies, known)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise MovieLensError(
                f"{path.name} line {first + row}: rating {values[row]:g} of movie "
                f"{movies[row]} is not a known movie rated 0.5-5 at a real time"
            )
        yield np.column_stack(
            [frame["user"].to_numpy(), movies, round_half_up(values), frame["time"].to_numpy()]
        )
