from django.urls import path

from ratings import views

app_name = "ratings"

urlpatterns = [
    path("movie/<int:movie_id>/", views.rate, name="rate"),
    path("movie/<int:movie_id>/dismiss/", views.dismiss, name="dismiss"),
    path("movie/<int:movie_id>/undismiss/", views.undismiss, name="undismiss"),
    path("<int:rating_id>/delete/", views.rating_delete, name="delete"),
    path("watchlist/", views.watchlist, name="watchlist"),
    path("movie/<int:movie_id>/watch/", views.watch, name="watch"),
    path("movie/<int:movie_id>/unwatch/", views.unwatch, name="unwatch"),
]
