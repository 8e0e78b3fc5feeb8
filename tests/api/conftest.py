import pytest

from accounts.services import api_token_create


@pytest.fixture
def token(member):
    return api_token_create(user=member)


@pytest.fixture
def auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def staff_auth(staff):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=staff)}"}
