from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gnn.bridge import registry
from gnn.reporting import metric_table_text


class Command(BaseCommand):
    help = (
        "Show how a version did on the users and ratings held out when it was trained, "
        "beside the popularity and bias floors (default: the version serving)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Our --version names a model version and replaces Django's own.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--version", help="a version name from model_versions")

    def handle(self, *args, version=None, **options):
        if version is None:
            served = registry.served(settings.MODELS_DIR)
            if served is None:
                raise CommandError("no model version is serving; train one with train_model")
            version = served.version
        try:
            meta = registry.load_version(settings.MODELS_DIR, version).metadata
        except registry.ModelVersionError as exc:
            raise CommandError(str(exc)) from None
        trained = (
            f"{meta.created_at:%Y-%m-%d %H:%M} UTC" if meta.created_at else "at an unknown time"
        )
        self.stdout.write(
            f"Version {version}, trained {trained} on {meta.data.ratings} ratings "
            f"({meta.data.training_ratings} for training, the rest held out)."
        )
        self.stdout.write(metric_table_text(meta.metrics))
