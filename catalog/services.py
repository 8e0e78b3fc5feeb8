from collections.abc import Iterable

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from catalog import posters
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


def _store(name: str, data: bytes) -> str:
    """The file under its content-hashed name; one already there is the same
    bytes (another web machine, an earlier run), so it is kept."""
    if default_storage.exists(name):
        return name
    return default_storage.save(name, ContentFile(data))


def _delete_later(names: Iterable[str]) -> None:
    """Files a committed change no longer points at; kept if it rolls back."""
    names = [name for name in names if name]
    if names:
        transaction.on_commit(lambda: [default_storage.delete(name) for name in names])


def movie_set_poster(*, movie: Movie, data: bytes) -> Movie:
    """Give the movie an uploaded poster: resized once to the card and page
    sizes (catalog.posters). Raises posters.PosterError, changing nothing,
    when the file is not a usable image."""
    made = posters.renditions(data)
    old = [movie.poster.name, movie.poster_card.name]
    movie.poster.name = _store(f"posters/{movie.pk}/{made.digest}-page.jpg", made.page)
    movie.poster_card.name = _store(f"posters/{movie.pk}/{made.digest}-card.jpg", made.card)
    movie.save(update_fields=["poster", "poster_card", "updated_at"])
    _delete_later(name for name in old if name not in (movie.poster.name, movie.poster_card.name))
    return movie


def movie_clear_poster(*, movie: Movie) -> Movie:
    """Back to the generated poster."""
    old = [movie.poster.name, movie.poster_card.name]
    movie.poster.name = movie.poster_card.name = ""
    movie.save(update_fields=["poster", "poster_card", "updated_at"])
    _delete_later(old)
    return movie


def movies_generate_posters(*, movie_ids: Iterable[int] | None = None) -> int:
    """Draw a poster for every movie (or the given ones) whose generated
    poster is missing or was drawn from an older title, year or genres.
    Cheap when nothing changed (one query, a hash per movie), so imports and
    start-ups call it unconditionally. Returns how many were drawn."""
    movies = Movie.objects.prefetch_related("genres").only(
        "pk", "title", "year", "poster_generated"
    )
    if movie_ids is not None:
        movies = movies.filter(pk__in=list(movie_ids))
    changed, stale = [], []
    for movie in movies.iterator(chunk_size=2000):
        genres = [genre.name for genre in sorted(movie.genres.all(), key=lambda g: g.position)]
        digest = posters.generated_digest(movie.title, movie.year, genres)
        name = f"posters/generated/{movie.pk}-{digest}.svg"
        if movie.poster_generated.name == name:
            continue
        stale.append(movie.poster_generated.name)
        movie.poster_generated.name = _store(
            name, posters.generated_svg(movie.title, movie.year, genres)
        )
        changed.append(movie)
    Movie.objects.bulk_update(changed, ["poster_generated"], batch_size=1000)
    _delete_later(stale)
    return len(changed)
