"""Bad input through the whole stack is a 4xx with an OperationOutcome (issue 12, item 5).

Through the stack a bug in the primary used to reach clients as a 503
"transient" (the gateway's client took the primary's plain-text 500 for an
outage): ``Observation?subject.organization.identifier:in=x`` told clients to
retry a query that can never succeed. Each case here is a 4xx, and no answer is
a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from polyfhir_engines.local_stack import LocalStack
from stack.conftest import fhir_client, make_stack

pytestmark = pytest.mark.integration

HUGE = "99999999999999999999"
NESTED = b'{"resourceType": "Patient", "extension": ' + b"[" * 500 + b"]" * 500 + b"}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with make_stack(tmp_path_factory.mktemp("bad-input")) as s:
        yield s


def _outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body


@pytest.mark.parametrize(
    "path",
    [
        f"/Patient?_count={HUGE}",
        f"/Patient?_offset={HUGE}",
        f"/Patient/a/_history/{HUGE}",
        "/Patient?name=a%00b",
        "/Patient?_content=a%00b",
        "/Patient?_text=%01",
    ],
)
def test_bad_queries_are_400(stack: LocalStack, tenant: str, path: str) -> None:
    with fhir_client(stack, tenant) as fhir:
        _outcome(fhir.get(path), 400)


def test_chained_terminology_too_deep_is_400_not_a_transient_503(
    stack: LocalStack, tenant: str
) -> None:
    with fhir_client(stack, tenant) as fhir:
        answer = fhir.get("/Observation?subject.organization.identifier:in=x")
        outcome = _outcome(answer, 400)
        assert outcome["issue"][0]["code"] == "not-supported"
        assert "retry-after" not in answer.headers


def test_bad_bodies_are_400_and_the_connection_stays_usable(stack: LocalStack, tenant: str) -> None:
    with fhir_client(stack, tenant) as fhir:  # one keep-alive connection for every request
        headers = {"content-type": "application/fhir+json"}
        _outcome(fhir.post("/Patient", content=NESTED, headers=headers), 400)
        nul = {"resourceType": "Patient", "name": [{"family": "a\u0000b"}]}
        outcome = _outcome(fhir.post("/Patient", json=nul), 400)
        assert outcome["issue"][0]["expression"] == ["Patient.name[0].family"]
        unknown = fhir.request("FOO", "/Patient")
        _outcome(unknown, 405)
        after = fhir.get("/Patient")
        assert after.status_code == 200
        assert after.json()["total"] == 0
