from django.conf import settings
from django.db import models
from django.utils import timezone

POPULARITY = "popularity"  # the sanity arm: the most liked movies, not a model


class Method(models.TextChoices):
    AB = "ab", "A/B split"
    INTERLEAVE = "interleave", "Team-draft interleaving (both arms in one list)"


class ExperimentSurface(models.TextChoices):
    PANEL = "panel", "Recommendations panel"


class Experiment(models.Model):
    """Two rankers on one surface: members in ``share`` are split between
    them by a stable hash of (experiment, member), so a member keeps their
    arm in every process and after restarts, with no lookup per request."""

    name = models.CharField(max_length=100, unique=True)
    surface = models.CharField(
        max_length=20, choices=ExperimentSurface.choices, default=ExperimentSurface.PANEL
    )
    method = models.CharField(max_length=20, choices=Method.choices, default=Method.AB)
    version_a = models.CharField(
        "arm A (control)", max_length=40, help_text="A published model version."
    )
    version_b = models.CharField(
        "arm B (treatment)",
        max_length=40,
        help_text=f"A published model version, or “{POPULARITY}” for the most liked movies.",
    )
    share = models.FloatField(
        default=1.0, help_text="The share of members in the experiment (0–1); the rest see A."
    )
    mde = models.FloatField(
        "minimum detectable effect",
        default=0.2,
        help_text="The smallest relative change in ratings of recommended movies per member "
        "worth detecting (0.2 = 20%); it sets the planned number of members.",
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until stopped.")
    stopped_at = models.DateTimeField(null=True, blank=True, editable=False)
    promoted = models.CharField(max_length=40, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(share__gt=0, share__lte=1), name="experiment_share_0_1"
            ),
            models.CheckConstraint(
                condition=models.Q(mde__gt=0, mde__lt=10), name="experiment_mde_positive"
            ),
        ]
        permissions = [("promote_experiment", "Can promote an experiment's winning version")]

    def __str__(self):
        return self.name

    def is_running(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.stopped_at is None
            and self.starts_at <= now
            and (self.ends_at is None or now < self.ends_at)
        )

    @property
    def status(self) -> str:
        now = timezone.now()
        if self.stopped_at or (self.ends_at and self.ends_at <= now):
            return "ended"
        return "running" if self.starts_at <= now else "scheduled"
