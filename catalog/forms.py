from django import forms
from django.db.models import F

from catalog.models import Genre

SORTS = {
    "popular": ("Most rated", ("-rating_count", "title", "pk")),
    "rating": ("Best rated", None),  # an expression; see catalog.selectors
    "title": ("Title A–Z", ("title", "pk")),
    # Movies without a year go last either way, on SQLite and PostgreSQL alike.
    "newest": ("Newest first", (F("year").desc(nulls_last=True), "title", "pk")),
    "oldest": ("Oldest first", (F("year").asc(nulls_last=True), "title", "pk")),
}


class CatalogueFilterForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    q = forms.CharField(required=False, max_length=100, label="Title")
    genre = forms.ModelChoiceField(
        queryset=Genre.objects.all(),
        required=False,
        to_field_name="slug",
        empty_label="Any genre",
    )
    year_min = forms.IntegerField(required=False, min_value=1800, max_value=2100, label="From")
    year_max = forms.IntegerField(required=False, min_value=1800, max_value=2100, label="To")
    sort = forms.ChoiceField(
        choices=[(key, label) for key, (label, _) in SORTS.items()], required=False
    )

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("year_min"), cleaned.get("year_max")
        if low and high and low > high:
            self.add_error("year_max", "“To” must not be before “From”.")
        if not cleaned.get("sort"):
            cleaned["sort"] = "popular"
        return cleaned
