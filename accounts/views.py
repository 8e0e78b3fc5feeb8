import json

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import AccountDeleteForm, DemographicsForm, SignUpForm
from accounts.services import (
    UsernameTaken,
    api_token_create,
    api_token_revoke,
    api_tokens_of,
    user_create,
    user_delete,
    user_update_demographics,
)
from core.ratelimit import LOGIN, SIGNUP, limited
from ratings.selectors import (
    dismissed_movies,
    member_ratings_data,
    rating_history,
    taste_summary,
)

HISTORY_PAGE_SIZE = 20
_DEMOGRAPHICS = ("age", "gender", "occupation", "zip_code")


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
@require_http_methods(["GET", "POST"])
def profile(request):
    user = request.user
    initial = {f: getattr(user, f) for f in _DEMOGRAPHICS}
    form = DemographicsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        user_update_demographics(user=user, **form.cleaned_data)
        messages.success(request, "Profile saved. Your recommendations use it from now on.")
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", _profile_context(request, form))


def _profile_context(request, form, **extra) -> dict:
    user = request.user
    return {
        "form": form,
        "dismissals": dismissed_movies(user=user),
        "rating_count": user.ratings.count(),
        "taste": taste_summary(user=user),
        "tokens": list(api_tokens_of(user=user)),
        **extra,
    }


@login_required
@require_POST
def token_create(request):
    """A new API token, shown on the page this once (it is never stored)."""
    token = api_token_create(user=request.user)
    form = DemographicsForm(initial={f: getattr(request.user, f) for f in _DEMOGRAPHICS})
    context = _profile_context(request, form, new_token=token)
    return render(request, "accounts/profile.html", context)


@login_required
@require_POST
def token_revoke(request, token_id: int):
    if not api_token_revoke(user=request.user, token_id=token_id):
        raise Http404("No such token.")
    messages.success(request, "Token revoked: programs using it are signed out.")
    return redirect(reverse("accounts:profile") + "#tokens")


class PasswordChange(auth_views.PasswordChangeView):
    """Django's own view; the success page is the profile, with a note. The
    member's API tokens are revoked with the old password (accounts.receivers)."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(
            self.request, "Password changed. Your API tokens were revoked; make a new one below."
        )
        return response


@login_required
def history(request):
    page = Paginator(rating_history(user=request.user), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    my_ratings = {rating.movie_id: rating.value for rating in page}
    return render(request, "accounts/history.html", {"page": page, "my_ratings": my_ratings})


@login_required
@require_GET
def data_download(request):
    """Everything the site holds about the member, as one JSON file."""
    user = request.user
    data = {
        "exported_at": timezone.now().isoformat(),
        "profile": {
            "username": user.username,
            "age": user.age,
            "gender": user.gender,
            "occupation": user.occupation,
            "zip_code": user.zip_code,
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
        },
        **member_ratings_data(user=user),
        "api_tokens": [
            # The secrets are never stored; their prefixes name them.
            {"prefix": t.prefix, "created_at": t.created_at.isoformat(),
             "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None}
            for t in api_tokens_of(user=user)
        ],
    }  # fmt: skip
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    name = f"reel-{user.username}-{timezone.now():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
@limited(LOGIN)
def account_delete(request):
    """Delete the account and everything it rated, after the password again."""
    form = AccountDeleteForm(request.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        name = user.username
        logout(request)
        user_delete(user=user)
        messages.success(request, f"The account {name} and everything it held are deleted.")
        return redirect("home")
    status = 400 if form.is_bound else 200
    return render(request, "accounts/account_delete.html", {"form": form}, status=status)
