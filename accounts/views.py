from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import DemographicsForm, SignUpForm
from accounts.services import user_create, user_update_demographics
from core.ratelimit import SIGNUP, limited
from ratings.selectors import dismissed_movies, rating_history

HISTORY_PAGE_SIZE = 20


@require_http_methods(["GET", "POST"])
@limited(SIGNUP)
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = user_create(
            username=data["username"],
            password=data["password1"],
            age=data["age"],
            gender=data["gender"],
            occupation=data["occupation"],
            zip_code=data["zip_code"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request,
            f"Welcome, {user.username}! These picks come from your profile alone; "
            "rate a few movies and watch them change.",
        )
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    user = request.user
    initial = {f: getattr(user, f) for f in ("age", "gender", "occupation", "zip_code")}
    form = DemographicsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        user_update_demographics(user=user, **form.cleaned_data)
        messages.success(request, "Profile saved. Your recommendations use it from now on.")
        return redirect("accounts:profile")
    context = {
        "form": form,
        "dismissals": dismissed_movies(user=user),
        "rating_count": user.ratings.count(),
    }
    return render(request, "accounts/profile.html", context)


@login_required
def history(request):
    page = Paginator(rating_history(user=request.user), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    my_ratings = {rating.movie_id: rating.value for rating in page}
    return render(request, "accounts/history.html", {"page": page, "my_ratings": my_ratings})
