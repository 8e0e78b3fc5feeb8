from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from catalog.models import MOVIELENS_GENRES, Genre, Movie


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


def movies_correct_years(*, records: Iterable) -> int:
    """Give imported movies the year of their MovieLens title where they show
    another (an earlier import took MovieLens 100K's video-release date
    first: Taxi Driver 1996, not 1976), unless a curator set the year.
    Returns how many changed; updated_at moves, as any catalogue edit."""
    years = {r.movielens_id: r.year for r in records if r.year is not None}
    now = timezone.now()
    wrong = [
        Movie(pk=pk, year=years[movielens_id], updated_at=now)
        for pk, movielens_id, year in Movie.objects.filter(
            movielens_id__in=list(years), year_from_curator=False
        ).values_list("pk", "movielens_id", "year")
        if year != years[movielens_id]
    ]
    Movie.objects.bulk_update(wrong, ["year", "updated_at"], batch_size=1000)
    return len(wrong)


def movielens_movie_ids() -> dict[int, int]:
    """MovieLens movie id -> our primary key."""
    return dict(Movie.objects.filter(movielens_id__isnull=False).values_list("movielens_id", "pk"))


def movies_set_visible(*, movie_ids: Iterable[int], visible: bool) -> int:
    """Hide or show movies for members and recommendations; returns how many
    changed. updated_at moves too: the recommender notices catalogue changes
    by it (gnn.bridge.engine.catalogue_stamp)."""
    changed = Movie.objects.filter(pk__in=list(movie_ids)).exclude(is_visible=visible)
    return changed.update(is_visible=visible, updated_at=timezone.now())


def movie_hide(*, movie: Movie) -> bool:
    hidden = movies_set_visible(movie_ids=[movie.pk], visible=False)
    movie.is_visible = False
    return bool(hidden)


def movie_show(*, movie: Movie) -> bool:
    shown = movies_set_visible(movie_ids=[movie.pk], visible=True)
    movie.is_visible = True
    return bool(shown)


def movie_save(*, movie: Movie) -> Movie:
    """A curator's new or edited movie (its genres are saved by the form)."""
    movie.save()
    return movie


def movie_delete(*, movie: Movie) -> None:
    """The movie and its ratings go; its raters get new taste versions (ratings.receivers)."""
    with transaction.atomic():
        movie.delete()
