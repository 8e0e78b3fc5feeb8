from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Rating(models.Model):
    MIN_VALUE = 1
    MAX_VALUE = 5

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings"
    )
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="ratings")
    value = models.PositiveSmallIntegerField()
    # Plain defaults rather than auto_now(_add) so that imports keep the
    # original MovieLens timestamps; the ratings service stamps updates.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(value__gte=1, value__lte=5), name="rating_value_between_1_and_5"
            ),
            models.UniqueConstraint(fields=["user", "movie"], name="one_rating_per_user_and_movie"),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="rating_created_idx"),
            # retrain_if_due counts the ratings changed since the model's snapshot.
            models.Index(fields=["updated_at"], name="rating_updated_idx"),
            models.Index(fields=["user", "-updated_at"], name="rating_user_recent_idx"),
        ]

    def __str__(self):
        return f"{self.user} rated {self.movie}: {self.value}"


class Dismissal(models.Model):
    """A member said "not interested": never recommend this movie to them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dismissals"
    )
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "movie"], name="one_dismissal_per_user_and_movie"
            ),
        ]

    def __str__(self):
        return f"{self.user} is not interested in {self.movie}"


class NotSeen(models.Model):
    """A member answered "haven't seen it" when asked to rate a movie: it is not
    asked again. Not a dislike: it leaves recommendations alone."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="not_seen"
    )
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "“haven't seen it” answer"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "movie"], name="one_not_seen_per_user_and_movie"
            ),
        ]

    def __str__(self):
        return f"{self.user} has not seen {self.movie}"


class WatchlistItem(models.Model):
    """A member wants to watch this movie: it is left out of their
    recommendations (already chosen) and leaves the list when they rate it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlist"
    )
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "movie"], name="one_watchlist_item_per_pair"),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="watchlist_user_recent_idx")]

    def __str__(self):
        return f"{self.user} wants to watch {self.movie}"
