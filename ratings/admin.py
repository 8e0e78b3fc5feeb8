from django.contrib import admin

from ratings.models import Rating


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("user", "movie", "value", "created_at", "updated_at")
    list_filter = ("value",)
    search_fields = ("user__username", "movie__title")
    raw_id_fields = ("user", "movie")
    list_select_related = ("user", "movie")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    # Counting 100,000 rows on every page view is slow on SQLite and says little.
    show_full_result_count = False
