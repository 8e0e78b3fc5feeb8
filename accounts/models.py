from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Lower

from core.vocabularies import GENDER_CHOICES, OCCUPATIONS

# Built from the MovieLens vocabularies so that they are defined once.
Gender = models.TextChoices(
    "Gender", [(label.upper().replace(" ", "_"), (v, label)) for v, label in GENDER_CHOICES]
)
Occupation = models.TextChoices("Occupation", [(v.upper(), (v, label)) for v, label in OCCUPATIONS])


class Source(models.TextChoices):
    SIGNUP = "signup", "Sign-up"
    MOVIELENS = "movielens", "MovieLens import"


class MemberManager(UserManager):
    def get_by_natural_key(self, username):
        # Log-in (and createsuperuser's checks) match usernames case-insensitively,
        # as LOWER(username) = LOWER(%s): the unique index on LOWER(username)
        # answers it (iexact would compare UPPER(...) and scan the table).
        return self.alias(lowered=Lower("username")).get(lowered=Lower(Value(username)))


class User(AbstractUser):
    """A member. Demographics feed the recommender's cold start.

    They are optional at the database level only so that staff accounts made
    with createsuperuser need none; the sign-up form and the API require them.
    """

    MIN_AGE = 1
    MAX_AGE = 120

    age = models.PositiveSmallIntegerField(null=True, blank=True)
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True)
    occupation = models.CharField(max_length=20, choices=Occupation.choices, blank=True)
    zip_code = models.CharField(max_length=10, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SIGNUP)
    movielens_id = models.PositiveIntegerField(null=True, blank=True, unique=True, editable=False)
    # Bumped in the same transaction as every change to the member's ratings
    # or dismissals. Recommendation caches key on it, so a cached list is never
    # served after a change, and a cache hit needs no query beyond loading the
    # user, which authentication does anyway.
    taste_version = models.PositiveIntegerField(default=0, editable=False)

    objects = MemberManager()

    class Meta:
        constraints = [
            # "Sam" and "sam" are one member: the database says so, whatever
            # races past the sign-up form's own check.
            models.UniqueConstraint(Lower("username"), name="user_username_case_insensitive"),
            models.CheckConstraint(
                condition=Q(age__isnull=True) | Q(age__gte=1, age__lte=120),
                name="user_age_between_1_and_120",
            ),
            models.CheckConstraint(
                condition=Q(gender__in=["", *Gender.values]),
                name="user_gender_known",
            ),
        ]

    def __str__(self):
        return self.username


class ApiToken(models.Model):
    """A member's key for the JSON API (``Authorization: Bearer <token>``).

    Only a SHA-256 of the token is stored; the token itself is shown once.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False, help_text="To recognise a token.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    @property
    def expires_at(self):
        from datetime import timedelta

        from django.conf import settings

        return self.created_at + timedelta(days=settings.API_TOKEN_DAYS)
