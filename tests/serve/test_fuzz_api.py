"""The API against its own OpenAPI schema, fuzzed with schemathesis: whatever a client sends, the answer is never
a server error, every status and body is one the schema documents, and every error is one line of JSON."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from mmrag.serve.api import create_app
from mmrag.serve.service import IndexService


@pytest.fixture(scope="module")
def api_schema(service: IndexService):  # noqa: ANN201
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(service, mcp=False))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_makes_a_server_error(case: schemathesis.Case) -> None:
    from schemathesis.checks import not_a_server_error

    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    if case.method.upper() != case.operation.method.upper():  # schemathesis also tries methods not offered
        assert response.status_code == 405 and response.headers.get("allow"), response.status_code
        return
    documented = {str(code) for code in case.operation.definition.raw["responses"]}
    assert str(response.status_code) in documented, (response.status_code, documented, response.text[:200])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and "\n" not in body["error"] and "Traceback" not in body["error"]
