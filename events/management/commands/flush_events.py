from django.core.management.base import BaseCommand

from events.services import events_delete_expired, events_flush, events_pending


class Command(BaseCommand):
    help = (
        "Move waiting events (the Redis list, the spool folder) into the database now; "
        "--expire also deletes events older than EVENTS_RETENTION_DAYS."
    )

    def add_arguments(self, parser):
        parser.add_argument("--expire", action="store_true")

    def handle(self, *args, expire=False, **options):
        counts = events_flush()
        if counts["skipped"]:
            self.stderr.write("Another flush is running; try again when it ends.")
        parts = ", ".join(f"{n:,} {what}" for what, n in counts.items() if what != "skipped")
        self.stdout.write(f"Events: {parts}; {events_pending():,} still waiting.")
        if expire:
            self.stdout.write(f"Deleted {events_delete_expired():,} expired events.")
