from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gnn.bridge import registry
from gnn.versions import version_activate


class Command(BaseCommand):
    help = (
        "Serve another published version (roll back or forward). Web processes pick it "
        "up within a second or so, without a restart."
    )

    def add_arguments(self, parser):
        parser.add_argument("version", help="a version name from model_versions")

    def handle(self, *args, version, **options):
        served = registry.served(settings.MODELS_DIR)
        before = served.version if served else None
        try:
            version_activate(version=version)
        except registry.ModelVersionError as exc:
            raise CommandError(f"{exc}. Still serving {before or 'no model'}.") from None
        self.stdout.write(self.style.SUCCESS(f"Now serving {version} (was {before or 'none'})."))
