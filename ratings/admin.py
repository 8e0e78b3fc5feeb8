from django import forms
from django.contrib import admin

from ratings.models import Rating
from ratings.services import RatingError, parse_value, rating_move, rating_remove, rating_set


class RatingAdminForm(forms.ModelForm):
    class Meta:
        model = Rating
        fields = ("user", "movie", "value")

    def clean(self):
        cleaned = super().clean()
        movie = cleaned.get("movie")
        if movie is not None and not movie.is_visible:
            self.add_error("movie", "This movie is hidden: show it first to rate it.")
        if cleaned.get("value") is not None:
            try:
                parse_value(cleaned["value"])
            except RatingError as exc:
                self.add_error("value", exc.message)
        return cleaned


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    """Every add, edit and delete goes through the ratings services, so the
    movies' statistics and the members' taste versions (their cached lists)
    stay right."""

    form = RatingAdminForm
    list_display = ("user", "movie", "value", "created_at", "updated_at")
    list_filter = ("value",)
    search_fields = ("user__username", "movie__title")
    raw_id_fields = ("user", "movie")
    list_select_related = ("user", "movie")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    # Counting 100,000 rows on every page view is slow on SQLite and says little.
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            original = Rating.objects.select_related("user", "movie").get(pk=obj.pk)
            write = rating_move(
                rating=original, user=data["user"], movie=data["movie"], value=data["value"]
            )
        else:
            write = rating_set(user=data["user"], movie=data["movie"], value=data["value"])
        obj.pk = write.rating.pk  # the admin's messages and redirect name the saved row

    def delete_model(self, request, obj):
        rating_remove(user=obj.user, movie=obj.movie)

    def delete_queryset(self, request, queryset):
        for rating in queryset.select_related("user", "movie"):
            rating_remove(user=rating.user, movie=rating.movie)
