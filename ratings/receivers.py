"""Keep movie statistics and members' taste versions right whoever deletes a
member or a movie (the admin, a shell, a cascade): a member's ratings go with
them, and the movies they rated are recounted; a movie's ratings go with it,
and the members who rated it get a new taste version (their cached lists were
computed with it)."""

from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from accounts.models import User
from accounts.services import user_taste_changed
from catalog.models import Movie
from ratings.models import Rating
from ratings.services import movie_stats_refresh, ratings_of_deleted_movie_prepare


@receiver(pre_delete, sender=User, dispatch_uid="ratings.note_rated_movies")
def note_rated_movies(sender, instance, **kwargs):
    instance._rated_movie_ids = list(
        Rating.objects.filter(user_id=instance.pk).values_list("movie_id", flat=True)
    )


@receiver(post_delete, sender=User, dispatch_uid="ratings.recount_rated_movies")
def recount_rated_movies(sender, instance, **kwargs):
    # In the deletion's own transaction, after its ratings went: atomic with it.
    movie_ids = getattr(instance, "_rated_movie_ids", None)
    if movie_ids:
        movie_stats_refresh(movie_ids=movie_ids)


@receiver(pre_delete, sender=Movie, dispatch_uid="ratings.note_raters")
def note_raters(sender, instance, **kwargs):
    instance._rater_ids = ratings_of_deleted_movie_prepare(movie_id=instance.pk)


@receiver(post_delete, sender=Movie, dispatch_uid="ratings.new_taste_for_raters")
def new_taste_for_raters(sender, instance, **kwargs):
    for user_id in getattr(instance, "_rater_ids", []):
        user_taste_changed(user_id=user_id)
