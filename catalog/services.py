from collections.abc import Iterable

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.text import slugify

from catalog.models import MOVIELENS_GENRES, Genre, Movie
from ratings.models import Rating


def genres_ensure() -> None:
    """The 19 MovieLens genres exist (a migration creates them; a flushed
    database, as in transactional tests, may not have them)."""
    if Genre.objects.count() >= len(MOVIELENS_GENRES):
        return
    for position, name in enumerate(MOVIELENS_GENRES):
        Genre.objects.get_or_create(
            position=position, defaults={"name": name, "slug": slugify(name)}
        )


def movies_import_movielens(*, records: Iterable) -> int:
    """Create the MovieLens movies not yet imported, with their genres."""
    existing = set(
        Movie.objects.filter(movielens_id__isnull=False).values_list("movielens_id", flat=True)
    )
    new = [record for record in records if record.movielens_id not in existing]
    if not new:
        return 0
    genres_ensure()
    genre_ids = dict(Genre.objects.values_list("position", "pk"))
    Movie.objects.bulk_create(
        [
            Movie(
                title=record.title,
                year=record.year,
                release_date=record.release_date,
                imdb_url=record.imdb_url,
                movielens_id=record.movielens_id,
            )
            for record in new
        ],
        batch_size=1000,
    )
    # bulk_create returns no primary keys on every backend; read them back.
    movie_ids = movielens_movie_ids()
    Through = Movie.genres.through
    Through.objects.bulk_create(
        [
            Through(movie_id=movie_ids[record.movielens_id], genre_id=genre_ids[position])
            for record in new
            for position in record.genre_positions
        ],
        batch_size=2000,
    )
    return len(new)


def movielens_movie_ids() -> dict[int, int]:
    """MovieLens movie id -> our primary key."""
    return dict(Movie.objects.filter(movielens_id__isnull=False).values_list("movielens_id", "pk"))


def movie_stats_add(*, movie_id: int, old: int | None, new: int | None) -> None:
    """Move a movie's counts by one rating going from ``old`` to ``new`` (None:
    no rating). Exact because the ratings service serialises the writes to
    one (member, movie) pair, so ``old`` is the value being replaced; the
    UPDATE adds in place, so writes to other pairs never overwrite it."""
    count = (new is not None) - (old is not None)
    total = (new or 0) - (old or 0)
    liked = (new is not None and new >= 4) - (old is not None and old >= 4)
    if count or total or liked:
        Movie.objects.filter(pk=movie_id).update(
            rating_count=F("rating_count") + count,
            rating_sum=F("rating_sum") + total,
            liked_count=F("liked_count") + liked,
        )


def movie_stats_refresh(*, movie_ids: Iterable[int] | None = None) -> None:
    """Recompute the denormalised rating counts of some movies (all by default).

    Counting from the ratings themselves, for the import, which writes
    ratings in bulk.
    """
    ratings = Rating.objects.filter(movie=OuterRef("pk")).order_by().values("movie")

    def aggregate(expression):
        return Coalesce(
            Subquery(ratings.annotate(x=expression).values("x"), output_field=IntegerField()),
            Value(0),
        )

    movies = Movie.objects.all()
    if movie_ids is not None:
        movies = movies.filter(pk__in=list(movie_ids))
    movies.update(
        rating_count=aggregate(Count("pk")),
        rating_sum=aggregate(Sum("value")),
        liked_count=aggregate(Count("pk", filter=Q(value__gte=4))),
    )
