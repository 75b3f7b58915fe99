"""Seeded fuzzing of every FHIR and admin route: no 5xx, and every 4xx is an OperationOutcome.

The requests come from :mod:`fuzz_requests` (hypothesis strategies, fixed seed,
generation only), so the same requests are sent on every run and a failure
names the request to replay. Counts are bounded: :data:`IN_PROCESS` requests
against each in-process server (SQLite, PostgreSQL) and :data:`TWO_PROCESSES`
against the gateway + primary-store processes, where the requests also cross
uvicorn's parser and the internal HTTP API. The test prints what it sent
(requests and distinct statuses per server).
"""

from __future__ import annotations

from collections import Counter

import httpx
import orjson
import pytest

from conftest import Server
from fuzz_requests import FuzzRequest, generate

pytestmark = pytest.mark.integration

IN_PROCESS = 600
TWO_PROCESSES = 150


# Resources the fuzzed requests find under the ids they draw ("a", "p1", "x.y-z").
SEED: dict[str, dict[str, object]] = {
    "Organization": {"name": "Acme"},
    "Patient": {
        "name": [{"family": "Fuzz"}],
        "managingOrganization": {"reference": "Organization/a"},
    },
    "Observation": {
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]},
        "subject": {"reference": "Patient/a"},
        "valueQuantity": {"value": 5.4, "system": "http://unitsofmeasure.org", "code": "mg"},
    },
    "Encounter": {
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": {"reference": "Patient/a"},
    },
    "CodeSystem": {"url": "http://example.org/cs", "status": "active", "content": "complete"},
}


async def _seed(client: httpx.AsyncClient, tenant: str) -> None:
    for rtype, content in SEED.items():
        for rid in ("a", "p1", "x.y-z"):
            body = {"resourceType": rtype, "id": rid, **content}
            if rtype == "CodeSystem":
                body["url"] = f"http://example.org/cs/{rid}"
            answer = await client.put(
                f"/fhir/{rtype}/{rid}", json=body, headers={"x-tenant-id": tenant}
            )
            assert answer.status_code == 201, answer.text


def _problem(request: FuzzRequest, response: httpx.Response) -> str | None:
    """Why ``response`` breaks the rule, or None."""
    if response.status_code >= 500:
        return f"{response.status_code}: {response.text[:300]}"
    if response.status_code < 400 or request.method == "HEAD":
        return None
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return f"{response.status_code} without a JSON body: {response.text[:200]!r}"
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return f"{response.status_code} without an OperationOutcome: {response.text[:200]}"
    return None


async def test_fuzzed_requests_never_get_a_5xx(server: Server, tenant: str) -> None:
    count = IN_PROCESS if server.topology == "inprocess" else TWO_PROCESSES
    requests = generate(count)
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    async with httpx.AsyncClient(
        base_url=server.base_url, transport=server.transport, timeout=60.0
    ) as client:
        await _seed(client, tenant)
        for request in requests:
            try:
                response = await client.request(
                    request.method,
                    request.url,
                    headers=request.for_tenant(tenant),
                    content=request.body or None,
                )
            except httpx.TransportError as exc:  # e.g. a reset connection
                problems.append(f"{request.describe()} -> {type(exc).__name__}: {exc}")
                continue
            statuses[response.status_code] += 1
            problem = _problem(request, response)
            if problem is not None:
                problems.append(f"{request.describe()} -> {problem}")
    print(
        f"\nfuzz {server.backend}-{server.topology}: {len(requests)} requests, "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    assert not problems, f"{len(problems)} of {len(requests)} requests:\n" + "\n".join(
        problems[:15]
    )
