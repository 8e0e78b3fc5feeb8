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


class MemberMark(models.Model):
    """A member's mark on a movie, made at a moment: at most one per (member,
    movie). The three tables below share this shape and keep their own
    meaning; ratings.services marks and unmarks with one helper."""

    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    # How the mark reads in a sentence: "<member> <says> <movie>".
    says = ""

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.user} {self.says} {self.movie}"


class Dismissal(MemberMark):
    """A member said "not interested": never recommend this movie to them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dismissals"
    )
    says = "is not interested in"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "movie"], name="one_dismissal_per_user_and_movie"
            ),
        ]


class NotSeen(MemberMark):
    """A member answered "haven't seen it" when asked to rate a movie: it is not
    asked again. Not a dislike: it leaves recommendations alone."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="not_seen"
    )
    says = "has not seen"

    class Meta:
        verbose_name = "“haven't seen it” answer"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "movie"], name="one_not_seen_per_user_and_movie"
            ),
        ]


class WatchlistItem(MemberMark):
    """A member wants to watch this movie: it is left out of their
    recommendations (already chosen) and leaves the list when they rate it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlist"
    )
    says = "wants to watch"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "movie"], name="one_watchlist_item_per_pair"),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="watchlist_user_recent_idx")]
