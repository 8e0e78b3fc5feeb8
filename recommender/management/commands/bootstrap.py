import contextlib
import fcntl
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from catalog.models import Movie
from catalog.services import movies_generate_posters
from gnn.bridge import registry
from gnn.versions import versions_record_unrecorded


class Command(BaseCommand):
    help = (
        "Make a fresh checkout serve: apply migrations, collect static files "
        "(production), import MovieLens 100K when the catalogue is empty and train a "
        "first model when none exists or the served one is of an older artifact format. "
        "Safe to run on every start."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--lock-timeout", type=float, default=1800.0, metavar="SECONDS",
            help="how long to wait for another bootstrap to finish (default 1800)",
        )  # fmt: skip

    def handle(self, *args, lock_timeout=1800.0, **options):
        # Several containers start together: one bootstraps, the others wait
        # for it and then find everything done.
        with bootstrap_lock(lock_timeout, self.stdout):
            self._bootstrap()

    def _bootstrap(self):
        call_command("migrate", interactive=False, verbosity=0)
        if not settings.DEBUG:
            # Production serves hashed static files through WhiteNoise.
            call_command("collectstatic", interactive=False, verbosity=0)
        if Movie.objects.filter(movielens_id__isnull=False).exists():
            self.stdout.write("MovieLens is already imported.")
        else:
            self.stdout.write("Importing MovieLens 100K (first start only)...")
            call_command(
                "seed_movielens", source=settings.MOVIELENS_SOURCE or None,
                stdout=self.stdout, stderr=self.stderr,
            )  # fmt: skip
        # Movies imported before posters existed, or added since without one.
        if drawn := movies_generate_posters():
            self.stdout.write(f"Drew posters for {drawn:,} movies without one.")
        # Folders published before versions had rows (or whose row failed).
        versions_record_unrecorded()
        served = registry.served(settings.MODELS_DIR)
        if served is None:
            self.stdout.write("Training a first model (first start only, about a minute)...")
            call_command("train_model", stdout=self.stdout, stderr=self.stderr)
        elif served.format != registry.FORMAT:
            # Until then the site serves popularity: this code refuses the old version.
            self.stdout.write(
                f"Model version {served.version} was written by an older release (artifact "
                f"format other than {registry.FORMAT}); training a new one..."
            )
            call_command("train_model", stdout=self.stdout, stderr=self.stderr)
        else:
            self.stdout.write(f"Serving model version {served.version}.")


@contextlib.contextmanager
def bootstrap_lock(timeout: float, out):
    """An exclusive lock on the data directory (shared by the containers of
    one deployment), or, on PostgreSQL, a session advisory lock (shared by
    every host on that database)."""
    deadline = time.monotonic() + timeout
    told = False
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [_ADVISORY_KEY])
                if cursor.fetchone()[0]:
                    break
                told = _waiting(out, told, deadline)
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_ADVISORY_KEY])
        return
    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    with open(settings.DATA_DIR / "bootstrap.lock", "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                told = _waiting(out, told, deadline)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_ADVISORY_KEY = 0x7265656C  # "reel": one number for every bootstrap of this project


def _waiting(out, told: bool, deadline: float) -> bool:
    if time.monotonic() >= deadline:
        raise CommandError("another bootstrap is still running; gave up waiting for it")
    if not told:
        out.write("Another container is bootstrapping; waiting for it to finish...")
    time.sleep(0.5)
    return True
