from django.contrib import admin
from django.urls import include, path

from recommender import views
from recommender.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("recommendations/", views.recommendations_panel, name="recommendations"),
    path("welcome/", views.onboarding, name="onboarding"),
    path("welcome/<int:movie_id>/", views.onboarding_answer, name="onboarding_answer"),
    path("model/", views.model_page, name="model"),
    path("metrics", views.metrics_view, name="metrics"),
    path("ops/", views.ops_page, name="ops"),
    path("movies/", include("catalog.urls")),
    path("ratings/", include("ratings.urls")),
    path("accounts/", include("accounts.urls")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]


def handler404(request, exception):
    """JSON for unknown API URLs (a client expects one error format); the
    site's usual page otherwise."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": "Not Found"}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
