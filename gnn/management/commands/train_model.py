from django.core.management.base import BaseCommand, CommandError

from gnn.models import TrainingRun
from gnn.reporting import metric_table_text
from gnn.runs import training_run_local
from gnn.services import RunInProgress


class Command(BaseCommand):
    help = (
        "Train the recommender on the ratings in the database, evaluate it on held-out "
        "users and ratings, and publish it as a new version (served at once unless "
        "--no-activate). Recorded as a training run like those Celery starts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--epochs", type=int, help="maximum training steps (default: the model's)"
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="a full retrain, even where one continued from the served version would do",
        )
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument("--no-activate", action="store_true", help="publish without serving it")

    def handle(
        self, *args, epochs=None, seed=0, no_activate=False, full=False, verbosity=1, **options
    ):
        if epochs is not None and not 1 <= epochs <= 100_000:
            raise CommandError("--epochs must be between 1 and 100000")
        if verbosity:
            self.stdout.write("Training from the ratings in the database...")
        try:
            run = training_run_local(
                max_steps=epochs, seed=seed, activate=not no_activate, show_bar=verbosity > 0,
                full=full,
            )  # fmt: skip
        except RunInProgress as exc:
            raise CommandError(f"{exc}. Try again when it has finished.") from None
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"training run {run.pk} failed: {run.error}")
        if verbosity:
            self.stdout.write(metric_table_text(run.published.metrics))
            served = "now serving" if not no_activate else "published, not activated"
            self.stdout.write(
                self.style.SUCCESS(
                    f"Version {run.published.version} {served}: trained on "
                    f"{run.ratings_count:,} ratings in {run.duration_seconds:.1f} s "
                    f"(training run {run.pk})."
                )
            )
