from django.db import models
from django.utils import timezone

from core.vocabularies import GENRES

MOVIELENS_GENRES = GENRES  # the catalogue's first genres, in u.item's order


class Genre(models.Model):
    name = models.CharField(max_length=40, unique=True)
    slug = models.SlugField(max_length=40, unique=True)
    # Index of the genre's flag in u.item; also the model's feature column.
    position = models.PositiveSmallIntegerField(unique=True)

    class Meta:
        ordering = ["position"]

    def __str__(self):
        return self.name


class MovieQuerySet(models.QuerySet):
    def visible(self):
        return self.filter(is_visible=True)


class Movie(models.Model):
    title = models.CharField(max_length=255)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    release_date = models.DateField(null=True, blank=True)
    genres = models.ManyToManyField(Genre, related_name="movies", blank=True)
    imdb_url = models.URLField("IMDb URL", max_length=500, blank=True)
    # The page-size rendition of an uploaded poster and its card-size twin
    # (catalog.posters makes both once, at upload); the generated poster
    # stands in where there is none.
    poster = models.ImageField(
        upload_to="posters",
        blank=True,
        max_length=200,
        help_text="A JPEG, PNG, WebP or GIF of 10 MB or less; it is cropped to 2:3 and resized.",
    )
    poster_card = models.ImageField(upload_to="posters", blank=True, max_length=200, editable=False)
    poster_generated = models.FileField(
        upload_to="posters/generated", blank=True, max_length=200, editable=False
    )
    is_visible = models.BooleanField(
        "visible", default=True, help_text="Hidden movies are never listed or recommended."
    )
    movielens_id = models.PositiveIntegerField(null=True, blank=True, unique=True, editable=False)
    # Set when a curator changes the year in the admin: an import's
    # correction from the MovieLens titles then leaves it alone.
    year_from_curator = models.BooleanField(default=False, editable=False)
    # Denormalised from ratings (moved by ratings.services.movie_stats_add in
    # the same transaction as every rating write) because sorting the
    # catalogue by an aggregate over 100,000 ratings costs ~150 ms a page.
    rating_count = models.PositiveIntegerField(default=0, editable=False)
    rating_sum = models.PositiveIntegerField(default=0, editable=False)
    liked_count = models.PositiveIntegerField(
        default=0, editable=False, help_text="Ratings of 4 or 5."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MovieQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]
        indexes = [
            models.Index(fields=["title"], name="movie_title_idx"),
            models.Index(fields=["year"], name="movie_year_idx"),
            models.Index(fields=["-rating_count"], name="movie_popularity_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(year__isnull=True) | models.Q(year__gte=1870, year__lte=2100),
                name="movie_year_plausible",
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.year})" if self.year else self.title

    @property
    def poster_card_url(self) -> str:
        """The poster a card shows: the uploaded one, else the generated one
        ("" only before catalog.services.movies_generate_posters has run)."""
        if self.poster_card:
            return self.poster_card.url
        return self.poster_generated.url if self.poster_generated else ""

    @property
    def poster_page_url(self) -> str:
        if self.poster:
            return self.poster.url
        return self.poster_generated.url if self.poster_generated else ""

    @property
    def rating_mean(self) -> float | None:
        return self.rating_sum / self.rating_count if self.rating_count else None
