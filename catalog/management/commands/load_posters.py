"""Load a folder of poster images, each named by the movie it belongs to."""

import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog import posters
from catalog.models import Movie
from catalog.services import movie_set_poster

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif"}
IMDB_ID = re.compile(r"tt\d{7,9}")


class Command(BaseCommand):
    help = (
        "Give movies the posters in FOLDER: files named by MovieLens id (1.jpg) or IMDb id "
        "(tt0114709.png), resized once to the sizes the pages use. Every file is checked "
        "first; if one is not a usable image nothing is loaded (unless --skip-bad)."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument(
            "--skip-bad", action="store_true", help="load the good files even if some are not"
        )
        parser.add_argument(
            "--replace", action="store_true", help="replace posters movies already have"
        )

    def handle(self, *args, folder: Path, skip_bad=False, replace=False, **options):
        folder = folder.expanduser()
        if not folder.is_dir():
            raise CommandError(f"{folder}: no such folder. Nothing was loaded.")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise CommandError(
                f"{folder} holds no .jpg, .jpeg, .png, .webp or .gif files. Nothing was loaded."
            )
        by_movielens = dict(
            Movie.objects.filter(movielens_id__isnull=False).values_list("movielens_id", "pk")
        )
        by_imdb = {}
        for pk, url in Movie.objects.exclude(imdb_url="").values_list("pk", "imdb_url"):
            if found := IMDB_ID.search(url):
                by_imdb[found.group()] = pk

        matched, unmatched, bad = [], [], []
        for path in files:
            stem = path.stem.lower()
            pk = by_movielens.get(int(stem)) if stem.isdigit() else by_imdb.get(stem)
            if pk is None:
                unmatched.append(path.name)
                continue
            try:
                posters.renditions(path.read_bytes())
            except (posters.PosterError, OSError) as exc:
                bad.append(f"{path.name}: {exc}")
                continue
            matched.append((path, pk))
        if unmatched:
            self.stderr.write(
                f"{len(unmatched):,} file(s) name no movie we know (by MovieLens or IMDb id), "
                f"skipped: {', '.join(unmatched[:10])}{' …' if len(unmatched) > 10 else ''}"
            )
        if bad and not skip_bad:
            raise CommandError(
                "these files are not usable posters; nothing was loaded (--skip-bad loads the "
                "others):\n  " + "\n  ".join(bad)
            )
        for line in bad:
            self.stderr.write(f"skipped {line}")

        movies = Movie.objects.in_bulk([pk for _, pk in matched])
        loaded = kept = 0
        for path, pk in matched:
            movie = movies[pk]
            if movie.poster and not replace:
                kept += 1
                continue
            movie_set_poster(movie=movie, data=path.read_bytes())
            loaded += 1
        note = f"; {kept:,} already had a poster (--replace replaces them)" if kept else ""
        self.stdout.write(self.style.SUCCESS(f"Loaded {loaded:,} poster(s){note}."))
