"""How the internal client reports an error answer: a bug stays a 500, never a transient 503."""

from __future__ import annotations

import httpx
import orjson
import pytest

from polyfhir_clients.internal import InternalClient
from polyfhir_core.errors import FhirError, NotSupported, ServiceUnavailable

pytestmark = pytest.mark.unit


def _client(status: int, body: bytes, content_type: str = "text/plain") -> InternalClient:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return InternalClient("http://store", "/internal/v1/store", "primary-store", client=http)


async def test_a_bare_500_is_a_500_not_a_transient_503() -> None:
    client = _client(500, b"Internal Server Error")
    with pytest.raises(FhirError) as raised:
        await client._post("read", {}, dict)
    assert raised.value.status == 500
    assert not isinstance(raised.value, ServiceUnavailable)
    assert raised.value.outcome()["issue"][0]["code"] == "exception"


async def test_an_outcome_500_keeps_its_status() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"code": "exception"}]}
    client = _client(500, orjson.dumps(outcome), "application/fhir+json")
    with pytest.raises(FhirError) as raised:
        await client._post("read", {}, dict)
    assert raised.value.status == 500


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_statuses_without_an_outcome_are_transient(status: int) -> None:
    with pytest.raises(ServiceUnavailable):
        await _client(status, b"")._post("read", {}, dict)


async def test_a_4xx_outcome_is_the_same_error_class() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "not-supported", "diagnostics": "too complex"}],
    }
    client = _client(400, orjson.dumps(outcome), "application/fhir+json")
    with pytest.raises(NotSupported, match="too complex"):
        await client._post("search", {}, dict)
