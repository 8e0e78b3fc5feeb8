"""Curators' rating pages in the admin."""

from django.urls import reverse

from ratings.models import Rating


def test_admin_ratings_search_by_user_and_filter_by_value(client, staff, seeded):
    client.force_login(staff)
    url = reverse("admin:ratings_rating_changelist")
    response = client.get(url, {"q": "movielens-40", "value__exact": "5"})
    shown = response.context["cl"].result_list
    expected = Rating.objects.filter(user__username="movielens-40", value=5).count()
    assert len(shown) == expected
    assert all(r.user.username == "movielens-40" and r.value == 5 for r in shown)
