"""The member's own pages that gather several apps: the profile (demographics,
dismissals, taste, API tokens), a new token shown once, and the data download."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import DemographicsForm
from accounts.services import api_token_create, api_tokens_of, user_update_demographics
from ratings.selectors import dismissed_movies, member_ratings_data, taste_summary

_DEMOGRAPHICS = ("age", "gender", "occupation", "zip_code")


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
