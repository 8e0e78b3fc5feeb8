"""What members were shown and what they did with it.

An impression is one list shown (its id is the list id that the cards' links
and later outcomes carry); an outcome is an action on a movie, tied back to
the list and position it came from when it followed one within the
attribution window. Both are written off the request path (events.queue),
so their ids are made when the event happens and a flush that runs twice
writes each once.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Surface(models.TextChoices):
    PANEL = "panel", "Recommendations panel"
    API = "api", "API"
    ONBOARDING = "onboarding", "Onboarding"
    SIMILAR = "similar", "Similar movies"


class OutcomeKind(models.TextChoices):
    OPEN = "open", "Movie page opened"
    RATING = "rating", "Rated"
    WATCHLIST = "watchlist", "Added to the watchlist"
    DISMISS = "dismiss", "Not interested"


class Impression(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="impressions"
    )
    surface = models.CharField(max_length=20, choices=Surface.choices)
    # The model version that ranked the list ("" for the popularity list) and
    # the experiment's arm that chose it ("" outside experiments).
    version = models.CharField(max_length=64, blank=True)
    arm = models.CharField(max_length=32, blank=True)
    experiment_id = models.PositiveIntegerField(null=True, blank=True)
    movie_ids = models.JSONField(help_text="Movie pks in the order shown.")
    # An interleaved list: the team ("a" or "b") that placed each position.
    teams = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["user", "created_at"], name="impression_user_time_idx"),
            models.Index(fields=["created_at"], name="impression_time_idx"),
            models.Index(fields=["experiment_id", "arm"], name="impression_experiment_idx"),
        ]

    def __str__(self):
        return f"{self.surface} list for {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"


class Outcome(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="outcomes"
    )
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=OutcomeKind.choices)
    # The list it followed (an impression's id) and the movie's place in it
    # (1 = first), when it followed one within the attribution window. Not a
    # foreign key: a flush may write an outcome before its impression, and
    # retention deletes impressions and outcomes apart.
    list_id = models.UUIDField(null=True, blank=True)
    position = models.PositiveSmallIntegerField(null=True, blank=True)
    value = models.PositiveSmallIntegerField(null=True, blank=True, help_text="A rating's value.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["user", "created_at"], name="outcome_user_time_idx"),
            models.Index(fields=["created_at"], name="outcome_time_idx"),
            models.Index(fields=["list_id"], name="outcome_list_idx"),
        ]

    def __str__(self):
        return f"{self.kind} of {self.movie_id} by {self.user_id}"
