from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Count
from django.utils import timezone

from catalog.models import Genre, Movie


class DecadeFilter(admin.SimpleListFilter):
    """Years span eight decades; a filter per year would be a wall of links."""

    title = "release decade"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        years = Movie.objects.exclude(year=None).values_list("year", flat=True).distinct()
        decades = sorted({year // 10 * 10 for year in years})
        return [(str(d), f"{d}s") for d in decades] + [("none", "Unknown year")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(year=None)
        if value and value.isdigit():
            start = int(value)
            return queryset.filter(year__gte=start, year__lt=start + 10)
        return queryset


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    list_display = ("title", "year", "genre_list", "is_visible", "movielens_id")
    list_editable = ("is_visible",)
    list_filter = ("is_visible", "genres", DecadeFilter)
    search_fields = ("title",)
    filter_horizontal = ("genres",)
    readonly_fields = ("movielens_id", "created_at", "updated_at")
    fields = (
        "title",
        "year",
        "release_date",
        "genres",
        "imdb_url",
        "is_visible",
        "movielens_id",
        "created_at",
        "updated_at",
    )
    actions = ("hide_movies", "show_movies")
    formfield_overrides = {
        models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"},
    }

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("genres")

    @admin.display(description="genres")
    def genre_list(self, movie):
        return ", ".join(genre.name for genre in movie.genres.all())

    @admin.action(description="Hide selected movies from members and recommendations")
    def hide_movies(self, request, queryset):
        # updated_at moves too: the recommender notices catalogue changes by it.
        updated = queryset.update(is_visible=False, updated_at=timezone.now())
        self.message_user(request, f"{updated} movie(s) hidden.")

    @admin.action(description="Show selected movies again")
    def show_movies(self, request, queryset):
        updated = queryset.update(is_visible=True, updated_at=timezone.now())
        self.message_user(request, f"{updated} movie(s) shown.")


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ("name", "position", "movie_count")
    prepopulated_fields = {"slug": ("name",)}
    ordering = ("position",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(movie_count=Count("movies"))

    @admin.display(description="movies", ordering="movie_count")
    def movie_count(self, genre):
        return genre.movie_count
