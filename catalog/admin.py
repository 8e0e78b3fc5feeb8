from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Count
from django.utils.html import format_html

from catalog import posters
from catalog.models import Genre, Movie
from catalog.services import (
    movie_clear_poster,
    movie_delete,
    movie_save,
    movie_set_poster,
    movies_generate_posters,
    movies_set_visible,
)
from core.admin import GuardedActionsMixin


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
        if value and value.isascii() and value.isdigit() and len(value) <= 4:
            start = int(value)
            return queryset.filter(year__gte=start, year__lt=start + 10)
        return queryset


class MovieAdminForm(forms.ModelForm):
    class Meta:
        model = Movie
        fields = ("title", "year", "release_date", "genres", "poster", "imdb_url", "is_visible")

    def clean_poster(self):
        """The upload is resized here, so a file Pillow cannot use is a form
        error beside the field, and nothing is saved."""
        upload = self.cleaned_data.get("poster")
        self.poster_data = None
        if upload and "poster" in self.changed_data and hasattr(upload, "read"):
            upload.seek(0)
            data = upload.read()
            try:
                posters.renditions(data)
            except posters.PosterError as exc:
                raise forms.ValidationError(f"Not a usable poster: {exc}.") from None
            self.poster_data = data
        return upload


@admin.register(Movie)
class MovieAdmin(GuardedActionsMixin, admin.ModelAdmin):
    form = MovieAdminForm
    list_display = ("title", "year", "genre_list", "is_visible", "movielens_id")
    list_editable = ("is_visible",)
    list_filter = ("is_visible", "genres", DecadeFilter)
    search_fields = ("title",)
    filter_horizontal = ("genres",)
    readonly_fields = ("poster_preview", "movielens_id", "created_at", "updated_at")
    fields = (
        "title",
        "year",
        "release_date",
        "genres",
        "poster_preview",
        "poster",
        "imdb_url",
        "is_visible",
        "movielens_id",
        "created_at",
        "updated_at",
    )
    actions = ("hide_movies", "show_movies")
    action_permissions = {
        "hide_movies": "catalog.change_movie",
        "show_movies": "catalog.change_movie",
    }
    formfield_overrides = {
        models.URLField: {"form_class": forms.URLField, "assume_scheme": "https"},
    }

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("genres")

    @admin.display(description="genres")
    def genre_list(self, movie):
        return ", ".join(genre.name for genre in movie.genres.all())

    @admin.display(description="poster shown")
    def poster_preview(self, movie):
        url = movie.poster_card_url if movie.pk else ""
        if not url:
            return "Drawn from the title, year and genres once the movie is saved."
        source = "uploaded" if movie.poster else "drawn from the title, year and genres"
        return format_html(
            '<img src="{}" alt="Poster of {}" width="120" height="180"><br>{}', url, movie, source
        )

    def save_model(self, request, obj, form, change):
        # The upload itself is never stored: the service keeps its two
        # renditions (catalog.posters) under content-hashed names.
        poster_changed = "poster" in form.changed_data
        if poster_changed:
            obj.poster = form.initial.get("poster") or ""
        # Visibility goes through the catalogue's services like the actions
        # (list_editable saves here too); the rest is an ordinary save.
        visible = obj.is_visible
        if change and "is_visible" in form.changed_data:
            obj.is_visible = not visible  # the stored value; the service moves it
        if "year" in form.changed_data:
            obj.year_from_curator = True
        movie_save(movie=obj)
        if change and "is_visible" in form.changed_data:
            movies_set_visible(movie_ids=[obj.pk], visible=visible)
            obj.is_visible = visible
        if poster_changed and form.poster_data:
            movie_set_poster(movie=obj, data=form.poster_data)
        elif poster_changed:
            movie_clear_poster(movie=obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the genres: the generated poster shows them.
        movies_generate_posters(movie_ids=[form.instance.pk])

    def delete_model(self, request, obj):
        movie_delete(movie=obj)

    def delete_queryset(self, request, queryset):
        for movie in queryset:
            movie_delete(movie=movie)

    @admin.action(description="Hide selected movies from members and recommendations")
    def hide_movies(self, request, queryset):
        updated = movies_set_visible(movie_ids=queryset.values_list("pk", flat=True), visible=False)
        self.message_user(request, f"{updated} movie(s) hidden.")

    @admin.action(description="Show selected movies again")
    def show_movies(self, request, queryset):
        updated = movies_set_visible(movie_ids=queryset.values_list("pk", flat=True), visible=True)
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
