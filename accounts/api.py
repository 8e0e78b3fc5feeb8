from datetime import datetime

from django.contrib.auth import authenticate
from ninja import Field, Router, Schema, Status
from ninja.security import HttpBearer, SessionAuth

from accounts.forms import SignUpForm
from accounts.models import Gender, Occupation, User
from accounts.services import (
    TooManyTokens,
    UsernameTaken,
    api_token_create,
    api_token_revoke,
    api_token_user,
    api_tokens_of,
    token_hash,
    user_create,
)
from core.api import (
    AUTH_ERRORS,
    ApiError,
    Id,
    Message,
    Problems,
    Text,
    form_problems,
)
from core.ratelimit import LOGIN, SIGNUP, enforce, refuse_if_failing

router = Router(tags=["users"])


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>`` with a token from POST /api/users or /api/tokens."""

    def authenticate(self, request, token):
        user = api_token_user(token=token)
        if user is not None:
            request.user = user
            request.api_token_hash = token_hash(token)
        return user


class MemberSession(SessionAuth):
    """The website's session. Only a signed-in session is checked for CSRF: a
    client with a missing or bogus token and no session gets 401 (send a
    token), not 403 "CSRF check failed"."""

    def _get_key(self, request):
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


# A member: by token, or by the website's session (CSRF-checked for writes).
MEMBER = [TokenAuth(), MemberSession(csrf=True)]


def visible_user(request, user_id: int) -> User:
    """The member themselves, or anyone for staff; other people do not exist (404)."""
    me = request.auth
    if me.pk == user_id:
        return me
    if me.is_staff:
        found = User.objects.filter(pk=user_id).first()
        if found is not None:
            return found
    raise ApiError(404, "Not Found")


class UserIn(Schema):
    username: Text(150, 1)
    password: Text(128, 1)
    age: int = Field(ge=User.MIN_AGE, le=User.MAX_AGE)
    gender: Gender
    occupation: Occupation
    zip_code: Text(10) = ""


class UserOut(Schema):
    id: int
    username: str
    age: int | None
    gender: str
    occupation: str
    zip_code: str
    date_joined: datetime


class CreatedUser(Schema):
    user: UserOut
    token: str = Field(description="Send as 'Authorization: Bearer <token>'. Shown only once.")


class Credentials(Schema):
    username: Text(150, 1)
    password: Text(128, 1)


class TokenOut(Schema):
    token: str


@router.post(
    "/users", response={201: CreatedUser, 400: Message, 422: Problems, 429: Message}, auth=None
)
def create_user(request, payload: UserIn):
    """Sign up with demographics; the answer carries an API token for the new member."""
    enforce(request, SIGNUP)
    data = payload.dict()
    form = SignUpForm(data={**data, "password1": data["password"], "password2": data["password"]})
    if not form.is_valid():
        raise form_problems(form, rename={"password1": "password", "password2": "password"})
    try:
        user = user_create(
            username=form.cleaned_data["username"],
            password=data["password"],
            age=form.cleaned_data["age"],
            gender=form.cleaned_data["gender"],
            occupation=form.cleaned_data["occupation"],
            zip_code=form.cleaned_data["zip_code"],
        )
    except UsernameTaken as taken:
        raise ApiError.invalid("username", taken.message) from None
    return Status(201, {"user": user, "token": api_token_create(user=user)})


@router.post(
    "/tokens",
    response={201: TokenOut, 401: Message, 400: Message, 409: Message, 422: Problems, 429: Message},
    auth=None,
)
def create_token(request, payload: Credentials):
    """A new API token for an existing member, from their username and password."""
    enforce(request, LOGIN)
    refuse_if_failing(payload.username, request)
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None:
        raise ApiError(401, "Wrong username or password.")
    try:
        return Status(201, {"token": api_token_create(user=user)})
    except TooManyTokens as exc:
        raise ApiError(409, exc.message) from None


class TokenInfo(Schema):
    id: int
    prefix: str = Field(description="The token's first characters, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    current: bool = Field(description="The token this request was sent with.")


@router.get("/tokens", response={200: list[TokenInfo], **AUTH_ERRORS}, auth=MEMBER)
def list_tokens(request):
    """The caller's live tokens (never their secrets), newest first."""
    used = getattr(request, "api_token_hash", None)
    return [_token_info(t, used) for t in api_tokens_of(user=request.auth)]


def _token_info(token, used: str | None) -> dict:
    return {
        "id": token.pk,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "expires_at": token.expires_at,
        "current": token.key_hash == used,
    }


@router.delete("/tokens/current", response={204: None, **AUTH_ERRORS}, auth=[TokenAuth()])
def revoke_current_token(request):
    """Revoke the token this request was sent with (log out a program)."""
    token = api_tokens_of(user=request.auth).filter(key_hash=request.api_token_hash).first()
    if token is not None:
        api_token_revoke(user=request.auth, token_id=token.pk)
    return Status(204, None)


@router.delete("/tokens/{token_id}", response={204: None, **AUTH_ERRORS}, auth=MEMBER)
def revoke_token(request, token_id: Id):
    if not api_token_revoke(user=request.auth, token_id=token_id):
        raise ApiError(404, "Not Found")
    return Status(204, None)


@router.get("/users/me", response={200: UserOut, **AUTH_ERRORS}, auth=MEMBER)
def get_me(request):
    """The member the token (or session) belongs to."""
    return request.auth


@router.get("/users/{user_id}", response={200: UserOut, **AUTH_ERRORS}, auth=MEMBER)
def get_user(request, user_id: Id):
    return visible_user(request, user_id)
