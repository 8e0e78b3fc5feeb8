"""Signing up, the password, API tokens' revocation and account deletion.

The profile, its new-token answer and the data download show what other apps
hold about the member too, so they live in the composition root
(recommender.views.members); the rating history lives with the ratings.
"""

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import AccountDeleteForm, CheckedPasswordChangeForm, SignUpForm
from accounts.services import UsernameTaken, api_token_revoke, user_create, user_delete
from core.ratelimit import PASSWORD_CHECKS, SIGNUP, limited


@require_http_methods(["GET", "POST"])
@limited(SIGNUP)
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = user_create(
                username=data["username"],
                password=data["password1"],
                age=data["age"],
                gender=data["gender"],
                occupation=data["occupation"],
                zip_code=data["zip_code"],
            )
        except UsernameTaken as taken:
            form.add_error("username", taken.message)
            return render(request, "accounts/signup.html", {"form": form}, status=400)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request,
            f"Welcome, {user.username}! Rate a few movies you have seen and your "
            "recommendations become your own.",
        )
        return redirect("onboarding")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
@require_POST
def token_revoke(request, token_id: int):
    if not api_token_revoke(user=request.user, token_id=token_id):
        raise Http404("No such token.")
    messages.success(request, "Token revoked: programs using it are signed out.")
    return redirect(reverse("accounts:profile") + "#tokens")


@method_decorator(limited(PASSWORD_CHECKS), name="dispatch")
class PasswordChange(auth_views.PasswordChangeView):
    """Django's own view; the success page is the profile, with a note. The
    member's API tokens are revoked with the old password (accounts.receivers).
    The old password is checked as a log-in checks it, and the member's
    attempts are limited."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")
    form_class = CheckedPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(
            self.request, "Password changed. Your API tokens were revoked; make a new one below."
        )
        return response


@login_required
@require_http_methods(["GET", "POST"])
@limited(PASSWORD_CHECKS)
def account_delete(request):
    """Delete the account and everything it rated, after the password again."""
    data = request.POST if request.method == "POST" else None
    form = AccountDeleteForm(request.user, request, data)
    if request.method == "POST" and form.is_valid():
        user = request.user
        name = user.username
        logout(request)
        user_delete(user=user)
        messages.success(request, f"The account {name} and everything it held are deleted.")
        return redirect("home")
    status = 400 if form.is_bound else 200
    return render(request, "accounts/account_delete.html", {"form": form}, status=status)
