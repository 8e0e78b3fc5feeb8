from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from accounts.models import Gender, Occupation, User
from core.ratelimit import RateLimited, refuse_if_failing

_DEMOGRAPHIC_FIELDS = ("age", "gender", "occupation", "zip_code")
ZIP_HELP = "Optional. The first digit tells the recommender your region."


class NoColonLabels:
    """Labels read "Age", not "Age:"; the layout sets them apart already."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class LoginForm(NoColonLabels, AuthenticationForm):
    def clean(self):
        try:
            refuse_if_failing(self.cleaned_data.get("username", ""))
        except RateLimited as error:
            raise forms.ValidationError(error.message, code="too_many_failures") from None
        return super().clean()


class DemographicsMixin(NoColonLabels, forms.Form):
    age = forms.IntegerField(min_value=User.MIN_AGE, max_value=User.MAX_AGE)
    gender = forms.ChoiceField(choices=[("", "Choose…"), *Gender.choices])
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


class AccountDeleteForm(NoColonLabels, forms.Form):
    """Deleting an account asks for its password again."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password: nothing was deleted.")
        return password
