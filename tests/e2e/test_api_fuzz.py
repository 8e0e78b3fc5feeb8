"""Property-based run over the OpenAPI schema against a live server.

Schemathesis generates valid and invalid requests for every operation; none
may produce a server error, a status the schema does not document, or a body
that breaks its schema. Bounded in examples so it fits in the test command.
"""

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import api_token_create

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


from recommender.api import api  # noqa: E402

# The document the live server serves at /api/openapi.json, built in-process
# at collection time; each generated request goes to the live server.
schema = schemathesis.openapi.from_dict(api.get_openapi_schema())


@schema.parametrize()
@settings(
    max_examples=int(__import__("os").environ.get("SCHEMATHESIS_EXAMPLES", "12")),
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_request_breaks_the_api(case, live_server, trained_committed, member):
    headers = {"Authorization": f"Bearer {_token(member)}"}
    case.call_and_validate(base_url=live_server.url, headers=headers, checks=CHECKS)


_tokens: dict[int, str] = {}


def _token(member) -> str:
    # One token per member per test, not one per generated example.
    if member.pk not in _tokens:
        _tokens.clear()
        _tokens[member.pk] = api_token_create(user=member)
    return _tokens[member.pk]
