from __future__ import annotations

from django.db import models
from django.db.models import Q

from gnn.bridge.metadata import figure


class TrainingRun(models.Model):
    """One attempt to train and publish a model version, whoever started it."""

    class Trigger(models.TextChoices):
        THRESHOLD = "threshold", "Enough new ratings"
        ADMIN = "admin", "Retrain now (admin)"
        COMMAND = "command", "Management command"
        SCHEDULE = "schedule", "Schedule"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        # Trained and published, but not served: the quality gate said no (see error).
        REJECTED = "rejected", "Rejected by the quality gate"

    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # True while queued or running, NULL afterwards. Unique, and NULLs never
    # collide, so the database itself allows at most one active run however
    # many ratings or admin clicks arrive at once.
    active = models.BooleanField(null=True, default=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Handed to the broker.")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    snapshot_at = models.DateTimeField(
        null=True, blank=True, help_text="The moment of the data the model was trained on."
    )
    ratings_count = models.PositiveIntegerField(null=True, blank=True)
    users_count = models.PositiveIntegerField(null=True, blank=True)
    movies_count = models.PositiveIntegerField(null=True, blank=True)
    progress = models.CharField(max_length=200, blank=True)
    # The validation figures at each check (step, NDCG@10, RMSE, ...), written
    # as training goes: the curve of rejected and failed runs too.
    curve = models.JSONField(default=list, blank=True, editable=False)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["active"], name="one_active_training_run"),
            models.CheckConstraint(
                condition=Q(active__isnull=True) | Q(status__in=["queued", "running"]),
                name="only_queued_or_running_runs_are_active",
            ),
        ]

    def __str__(self):
        return f"Training run {self.pk} ({self.get_status_display().lower()})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def published(self) -> ModelVersion | None:
        """The version this run published (served, or rejected by the gate)."""
        try:
            return self.model_version
        except ModelVersion.DoesNotExist:
            return None


class ModelVersion(models.Model):
    """A published model version: the database's record of it, with its figures.

    Written together with its files by gnn.versions.version_publish (the files
    are the registry's, under MODELS_DIR); the row stays when the files are
    pruned, so the history of runs keeps its figures. This is the one database
    copy of a version's metrics.
    """

    version = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(null=True, blank=True)
    snapshot_at = models.DateTimeField(
        null=True, blank=True, help_text="The moment of the data it was trained on."
    )
    # The version's metrics by protocol ("warm", "cold", "first_5", ...), each
    # the model's figures beside its floors', as measured when it was trained.
    metrics = models.JSONField(default=dict, blank=True)
    data = models.JSONField(default=dict, blank=True)
    training_run = models.OneToOneField(
        TrainingRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="model_version",
    )
    removed_at = models.DateTimeField(
        null=True, blank=True, help_text="When its files were pruned (it can no longer be served)."
    )

    class Meta:
        ordering = ["-version"]
        permissions = [("activate_modelversion", "Can choose the version that is served")]

    def __str__(self):
        return self.version

    def figure(self, protocol: str, name: str, method: str = "model") -> float | None:
        return figure(self.metrics, protocol, name, method)


class AutoRetraining(models.Model):
    """Whether rating thresholds start training runs (one row, pk 1).

    A curator's rollback pauses it: otherwise the next member's rating would
    train a new version and undo the rollback. A curator resumes it."""

    paused_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "automatic retraining"
        verbose_name_plural = "automatic retraining"

    def __str__(self):
        return f"paused: {self.reason}" if self.paused_at else "on"

    @classmethod
    def current(cls) -> AutoRetraining:
        """The state, read only (no row yet: on)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)
