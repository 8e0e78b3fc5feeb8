"""One database record of a version: its ModelVersion row.

A run's version name and metrics move onto the version's row (created for
versions whose files were pruned, marked removed), the run keeps a one-to-one
link to it, and the run's own copies go.
"""

from django.db import migrations, models
from django.db.models import deletion
from django.utils import timezone


def runs_to_versions(apps, schema_editor):
    TrainingRun = apps.get_model("gnn", "TrainingRun")
    ModelVersion = apps.get_model("gnn", "ModelVersion")
    now = timezone.now()
    for run in TrainingRun.objects.exclude(version="").order_by("pk"):
        row = ModelVersion.objects.filter(version=run.version).first()
        if row is None:
            # Its files were pruned since (the old mirror dropped such rows).
            row = ModelVersion(version=run.version, created_at=run.finished_at, removed_at=now)
            row.data = {
                "ratings": run.ratings_count,
                "users": run.users_count,
                "movies": run.movies_count,
            }
        if not row.metrics:
            row.metrics = run.metrics or {}
        row.snapshot_at = row.snapshot_at or run.snapshot_at
        if row.training_run_id is None and not ModelVersion.objects.filter(
            training_run=run
        ).exists():
            row.training_run = run
        row.save()


def versions_to_runs(apps, schema_editor):
    ModelVersion = apps.get_model("gnn", "ModelVersion")
    for row in ModelVersion.objects.exclude(training_run=None).select_related("training_run"):
        run = row.training_run
        run.version = row.version
        run.metrics = row.metrics
        run.save(update_fields=["version", "metrics"])


class Migration(migrations.Migration):
    dependencies = [
        ("gnn", "0004_training_curve"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="snapshot_at",
            field=models.DateTimeField(
                blank=True, help_text="The moment of the data it was trained on.", null=True
            ),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="removed_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When its files were pruned (it can no longer be served).",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="modelversion",
            name="training_run",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=deletion.SET_NULL,
                related_name="model_version",
                to="gnn.trainingrun",
            ),
        ),
        migrations.RunPython(runs_to_versions, versions_to_runs),
        migrations.RemoveField(model_name="trainingrun", name="metrics"),
        migrations.RemoveField(model_name="trainingrun", name="version"),
    ]
