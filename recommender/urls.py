from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from accounts import urls as accounts_urls
from accounts.forms import AdminLoginForm
from core.media import media_urlpatterns
from core.ratelimit import LOGIN, limited
from ratings import views as ratings_views
from recommender.api import api
from recommender.views import home, members, model, movies, onboarding

# Pages that compose several apps live in the root; they keep the URL names
# of the app they are about ("catalog:detail", "accounts:profile").
catalog_pages = (
    [
        path("", movies.movie_list, name="list"),
        path("<int:movie_id>/", movies.movie_detail, name="detail"),
    ],
    "catalog",
)
account_pages = (
    [
        *accounts_urls.urlpatterns,
        path("profile/", members.profile, name="profile"),
        path("history/", ratings_views.history, name="history"),
        path("data.json", members.data_download, name="data_download"),
        path("tokens/new/", members.token_create, name="token_create"),
    ],
    accounts_urls.app_name,
)

# The admin's log-in goes through the site's limits: per address on every
# attempt, and per username and address on failures.
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("", home.home, name="home"),
    path("recommendations/", home.recommendations_panel, name="recommendations"),
    path("welcome/", onboarding.onboarding, name="onboarding"),
    path("welcome/<int:movie_id>/", onboarding.onboarding_answer, name="onboarding_answer"),
    path("model/", model.model_page, name="model"),
    path("metrics", model.metrics_view, name="metrics"),
    path("ops/", model.ops_page, name="ops"),
    path("movies/", include(catalog_pages)),
    path("ratings/", include("ratings.urls")),
    path("accounts/", include(account_pages)),
    path("api/", api.urls),
    path("admin/login/", limited(LOGIN)(admin.site.login)),
    path("admin/", admin.site.urls),
    # Browsers and the admin ask for /favicon.ico whatever the page's <link> says.
    path("favicon.ico", lambda request: redirect(static("favicon.svg"), permanent=True)),
    *media_urlpatterns(),
]


def handler404(request, exception):
    """JSON for unknown API URLs (a client expects one error format); the
    site's usual page otherwise."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": "Not Found"}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler400(request, exception):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE is 413, not 400 (Django reports
    it as a bad request); the API's answer becomes JSON on its way out
    (core.middleware.ApiErrorsAsJsonMiddleware)."""
    from django.core.exceptions import RequestDataTooBig
    from django.views.defaults import bad_request

    response = bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        response.status_code = 413
    return response


def handler500(request):
    """A database out of reach for a moment is 503 wherever it was met, a
    middleware reading the session included (outside any view, so
    core.middleware.DatabaseBusyMiddleware never sees it); anything else is
    Django's 500."""
    import sys

    from django.views.defaults import server_error

    from core.middleware import unavailable_message, unavailable_response

    error = sys.exc_info()[1]
    message = unavailable_message(error) if error is not None else None
    if message is not None:
        return unavailable_response(request, error, message)
    return server_error(request)
