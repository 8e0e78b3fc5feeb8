"""The member's own pages that gather several apps: the profile (demographics,
dismissals, taste, API tokens), a new token shown once, and the data download."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import DemographicsForm
from accounts.services import (
    TooManyTokens,
    api_token_create,
    api_tokens_of,
    api_tokens_record,
    user_update_demographics,
)
from core.ratelimit import LOGIN, limited
from events.selectors import member_events
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
    new_token = request.session.pop(_NEW_TOKEN, None)
    response = render(
        request, "accounts/profile.html", _profile_context(request, form, new_token=new_token)
    )
    if new_token:
        # The page holds a secret: no cache, no back-button copy keeps it.
        response["Cache-Control"] = "no-store"
    return response


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


# The new token's secret waits here for the one page that shows it: the
# session, server-side, for the redirect's length (popped when shown).
_NEW_TOKEN = "new_api_token"


@login_required
@require_POST
@limited(LOGIN)
def token_create(request):
    """A new API token, then a redirect to the profile that shows it this
    once: a reload shows the profile, never makes a second token, and the
    secret is never in a URL (only its hash is stored)."""
    try:
        request.session[_NEW_TOKEN] = api_token_create(user=request.user)
    except TooManyTokens as exc:
        messages.error(request, exc.message)
    return redirect(reverse("accounts:profile") + "#tokens")


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
        # The lists shown to them and what they did with them (events that
        # are still queued, a few seconds' worth, come in the next download).
        "events": member_events(user=user),
        # Every token row, expired ones too; the secrets are never stored.
        "api_tokens": api_tokens_record(user=user),
    }  # fmt: skip
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    # filename*= (RFC 6266): any username, Latin-1 or not, makes a valid header.
    name = f"reel-{user.username}-{timezone.now():%Y-%m-%d}.json"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response
