from django.contrib import admin
from django.urls import include, path

from catalog import views as catalog_views

urlpatterns = [
    path("", catalog_views.home, name="home"),
    path("movies/", include("catalog.urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
]
