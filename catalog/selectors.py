from django.db.models import QuerySet

from catalog.models import Movie


def movie_list(*, include_hidden: bool = False) -> QuerySet[Movie]:
    movies = Movie.objects.all() if include_hidden else Movie.objects.visible()
    return movies.prefetch_related("genres").order_by("title", "id")
