from django.contrib import admin
from django.urls import include, path

from recommender import views

urlpatterns = [
    path("", views.home, name="home"),
    path("recommendations/", views.recommendations_panel, name="recommendations"),
    path("model/", views.model_page, name="model"),
    path("movies/", include("catalog.urls")),
    path("ratings/", include("ratings.urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
]
