from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views
from accounts.forms import LoginForm
from core.ratelimit import LOGIN, limited

login = limited(LOGIN)(
    auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True)
)

app_name = "accounts"

# The member's pages that show other apps' data too (profile, history, the data
# download, a new token) join this namespace in recommender.urls.
urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", login, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChange.as_view(), name="password_change"),
    path("delete/", views.account_delete, name="delete"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
