from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, UserCreationForm

from accounts.models import Gender, Occupation, User
from core.ratelimit import RateLimited, count_failure, refuse_if_failing

_DEMOGRAPHIC_FIELDS = ("age", "gender", "occupation", "zip_code")
ZIP_HELP = "Optional. The first digit tells the recommender your region."


class NoColonLabels:
    """Labels read "Age", not "Age:"; the layout sets them apart already."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class FailingLogInsRefused:
    """A log-in form that asks to wait while its username is past its failed
    log-ins from this address (core.ratelimit.LOGIN_FAILURES)."""

    def clean(self):
        try:
            refuse_if_failing(self.cleaned_data.get("username", ""), self.request)
        except RateLimited as error:
            raise forms.ValidationError(error.message, code="too_many_failures") from None
        return super().clean()


class LoginForm(FailingLogInsRefused, NoColonLabels, AuthenticationForm):
    pass


class AdminLoginForm(FailingLogInsRefused, AdminAuthenticationForm):
    """The admin's log-in: the same per-username limit as the site's."""


class DemographicsMixin(NoColonLabels, forms.Form):
    age = forms.IntegerField(min_value=User.MIN_AGE, max_value=User.MAX_AGE)
    gender = forms.ChoiceField(
        choices=[("", "Choose…"), *Gender.choices],
        help_text=(
            "“Prefer not to say” is fine: your first recommendations then come from your "
            "age and occupation alone, as what people of your age like."
        ),
    )
    occupation = forms.ChoiceField(choices=[("", "Choose…"), *Occupation.choices])
    zip_code = forms.RegexField(
        regex=r"^[A-Za-z0-9 -]{0,10}$",
        max_length=10,
        required=False,
        label="ZIP code",
        help_text=ZIP_HELP,
        error_messages={"invalid": "Use up to 10 letters, digits, spaces or hyphens."},
    )

    def clean_zip_code(self):
        return self.cleaned_data["zip_code"].strip()


class SignUpForm(DemographicsMixin, UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", *_DEMOGRAPHIC_FIELDS)

    def clean_username(self):
        username = super().clean_username()  # None when it reported "already exists"
        if username and username.lower().startswith("movielens-"):
            raise forms.ValidationError("Names starting with “movielens-” are reserved.")
        return username


class DemographicsForm(DemographicsMixin, forms.Form):
    pass


def checked_password(user, password: str, request, wrong: str) -> str:
    """The member's own password, checked as a log-in checks it: refused while
    their username is past its failed log-ins from this address, and a wrong
    one counted as a failed log-in (so these forms are no way around the
    log-in's limit)."""
    try:
        refuse_if_failing(user.get_username(), request)
    except RateLimited as error:
        raise forms.ValidationError(error.message, code="too_many_failures") from None
    if not user.check_password(password):
        count_failure(user.get_username(), request)
        raise forms.ValidationError(wrong, code="password_incorrect")
    return password


class AccountDeleteForm(NoColonLabels, forms.Form):
    """Deleting an account asks for its password again."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user, request, *args, **kwargs):
        self.user = user
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_password(self):
        return checked_password(
            self.user,
            self.cleaned_data["password"],
            self.request,
            "That is not your password: nothing was deleted.",
        )


class CheckedPasswordChangeForm(PasswordChangeForm):
    """Django's form, its old password checked as a log-in checks it."""

    def __init__(self, user, *args, request=None, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self):
        return checked_password(
            self.user,
            self.cleaned_data["old_password"],
            self.request,
            self.error_messages["password_incorrect"],
        )
