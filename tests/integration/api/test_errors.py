"""Bad input gets the right 4xx with an OperationOutcome, and nothing is written."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


def _is_outcome(response: httpx.Response) -> bool:
    return bool(response.json().get("resourceType") == "OperationOutcome")


async def _nothing_stored(fhir: httpx.AsyncClient) -> bool:
    return bool((await fhir.get("/_history")).json()["entry"] == [])


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/Patient", b"{not json", 400),
        ("POST", "/Patient", b"", 400),
        ("POST", "/Patient", b"[1, 2]", 400),
        (
            "POST",
            "/Patient",
            b'{"resourceType": "Observation", "status": "final", "code": {"text": "x"}}',
            400,
        ),
        ("POST", "/Patient", b'{"resourceType": "Patient", "unknownElement": true}', 400),
        ("POST", "/Patient", b'{"resourceType": "Patient", "birthDate": "1970-13-45"}', 400),
        ("POST", "/Patient", b'{"name": [{"family": "x"}]}', 400),
        ("PUT", "/Patient/abc", b'{"resourceType": "Patient", "id": "xyz"}', 400),
        ("PUT", "/Patient/abc", b'{"resourceType": "Patient"}', 400),
        ("PUT", "/Patient/bad id!", b'{"resourceType": "Patient", "id": "bad id!"}', 400),
        ("POST", "/NotAType", b'{"resourceType": "NotAType"}', 404),
        ("GET", "/NotAType/1", b"", 404),
        ("GET", "/Patient/1/_history/x", b"", 400),
    ],
)
async def test_invalid_requests(
    fhir: httpx.AsyncClient, method: str, path: str, body: bytes, status: int
) -> None:
    headers = {"content-type": "application/fhir+json"}
    response = await fhir.request(method, path, content=body or None, headers=headers)
    assert response.status_code == status, response.text
    assert _is_outcome(response)
    assert await _nothing_stored(fhir)


async def test_invalid_resource_lists_every_issue(fhir: httpx.AsyncClient) -> None:
    body = {"resourceType": "Patient", "birthDate": "1970-13-45", "active": "yes", "foo": 1}
    response = await fhir.post("/Patient", json=body)
    assert response.status_code == 400
    assert len(response.json()["issue"]) >= 3


async def test_oversized_body_is_413(fhir: httpx.AsyncClient) -> None:
    body = {"resourceType": "Patient", "name": [{"family": "x" * (300 * 1024)}]}
    response = await fhir.post("/Patient", json=body)
    assert response.status_code == 413
    assert _is_outcome(response)


async def test_oversized_search_form_is_413(fhir: httpx.AsyncClient) -> None:
    form = {"name": "x" * (300 * 1024)}
    response = await fhir.post("/Patient/_search", data=form)
    assert response.status_code == 413
    assert _is_outcome(response)


async def test_unsupported_media_types(fhir: httpx.AsyncClient) -> None:
    xml = await fhir.post(
        "/Patient", content=b"<Patient/>", headers={"content-type": "application/fhir+xml"}
    )
    assert xml.status_code == 415
    accept = await fhir.get("/metadata", headers={"accept": "application/fhir+xml"})
    assert accept.status_code == 406
    fmt = await fhir.get("/metadata", params={"_format": "xml"})
    assert fmt.status_code == 406


async def test_unknown_route_and_method(fhir: httpx.AsyncClient) -> None:
    assert (await fhir.get("/Patient/1/2/3/4/5")).status_code == 404
    wrong = await fhir.post("/Patient/123", json={"resourceType": "Patient"})
    assert wrong.status_code == 405
    assert _is_outcome(wrong)


async def test_bad_if_match_is_400(fhir: httpx.AsyncClient) -> None:
    response = await fhir.put(
        "/Patient/p1", json={"resourceType": "Patient", "id": "p1"}, headers={"If-Match": "garbage"}
    )
    assert response.status_code == 400
