from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from catalog.models import Movie
from gnn.edge import registry


class Command(BaseCommand):
    help = (
        "Make a fresh checkout serve: apply migrations, collect static files "
        "(production), import MovieLens 100K when the catalogue is empty and train a "
        "first model when none exists or the served one is of an older artifact format. "
        "Safe to run on every start."
    )

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not settings.DEBUG:
            # Production serves hashed static files through WhiteNoise.
            call_command("collectstatic", interactive=False, verbosity=0)
        if Movie.objects.filter(movielens_id__isnull=False).exists():
            self.stdout.write("MovieLens is already imported.")
        else:
            self.stdout.write("Importing MovieLens 100K (first start only)...")
            call_command("seed_movielens", stdout=self.stdout, stderr=self.stderr)
        serving = registry.current_version(settings.MODELS_DIR)
        if serving is None:
            self.stdout.write("Training a first model (first start only, about a minute)...")
            call_command("train_model", stdout=self.stdout, stderr=self.stderr)
        elif not registry.is_current_format(settings.MODELS_DIR, serving):
            # Until then the site serves popularity: this code refuses the old version.
            self.stdout.write(
                f"Model version {serving} was written by an older release (artifact format "
                f"other than {registry.FORMAT}); training a new one..."
            )
            call_command("train_model", stdout=self.stdout, stderr=self.stderr)
        else:
            self.stdout.write(f"Serving model version {serving}.")
