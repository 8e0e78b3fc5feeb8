from django.db.models import QuerySet

from ratings.models import Dismissal, Rating


def ratings_of_movies(*, user, movie_ids) -> dict[int, int]:
    """The member's rating of each listed movie that they rated (one query)."""
    if not user.is_authenticated:
        return {}
    return dict(
        Rating.objects.filter(user=user, movie_id__in=list(movie_ids)).values_list(
            "movie_id", "value"
        )
    )


def rating_history(*, user) -> QuerySet[Rating]:
    return (
        Rating.objects.filter(user=user)
        .select_related("movie")
        .prefetch_related("movie__genres")
        .order_by("-updated_at", "-pk")
    )


def dismissed_movies(*, user) -> QuerySet[Dismissal]:
    return Dismissal.objects.filter(user=user).select_related("movie").order_by("-created_at")


def attach_my_ratings(*, user, movies) -> list:
    """Set ``movie.my_rating`` on each movie for the star widget; returns the list."""
    movies = list(movies)
    mine = ratings_of_movies(user=user, movie_ids=[m.pk for m in movies])
    for movie in movies:
        movie.my_rating = mine.get(movie.pk)
    return movies
