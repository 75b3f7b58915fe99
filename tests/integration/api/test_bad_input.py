"""Input that used to give a 500 is a 4xx with an OperationOutcome (issue 12, item 5).

Every test runs over the four servers of the API matrix (SQLite and PostgreSQL,
one process and gateway + primary-store as processes). The socket-level tests
(an unknown method, control bytes in a header, a kept-alive connection) need a
real socket and run where the gateway is a process of its own.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from conftest import Server

pytestmark = pytest.mark.integration

HUGE = "99999999999999999999"  # beyond 64 bits


def _outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body


def _nested(depth: int) -> bytes:
    """A Patient whose extension nests ``depth`` arrays deep."""
    return b'{"resourceType": "Patient", "extension": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [300, 1000])
async def test_deeply_nested_json_is_400(fhir: httpx.AsyncClient, depth: int) -> None:
    headers = {"content-type": "application/fhir+json"}
    _outcome(await fhir.post("/Patient", content=_nested(depth), headers=headers), 400)
    _outcome(await fhir.put("/Patient/deep", content=_nested(depth), headers=headers), 400)
    bundle = (
        b'{"resourceType": "Bundle", "type": "transaction", "entry": [{"request": '
        b'{"method": "POST", "url": "Patient"}, "resource": ' + _nested(depth) + b"}]}"
    )
    _outcome(await fhir.post("", content=bundle, headers=headers), 400)
    assert (await fhir.get("/Patient")).json()["total"] == 0


async def test_deeply_nested_json_patch_is_400(fhir: httpx.AsyncClient) -> None:
    created = await fhir.post("/Patient", json={"resourceType": "Patient"})
    rid = created.json()["id"]
    patch = b'[{"op": "add", "path": "/extension", "value": ' + b"[" * 300 + b"]" * 300 + b"}]"
    headers = {"content-type": "application/json-patch+json"}
    _outcome(await fhir.patch(f"/Patient/{rid}", content=patch, headers=headers), 400)
    binary = base64.b64encode(patch).decode("ascii")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "request": {"method": "PATCH", "url": f"Patient/{rid}"},
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "application/json-patch+json",
                    "data": binary,
                },
            }
        ],
    }
    _outcome(await fhir.post("", json=bundle), 400)
    assert (await fhir.get(f"/Patient/{rid}")).json()["meta"]["versionId"] == "1"


@pytest.mark.parametrize(
    "path",
    [
        f"/Patient?_offset={HUGE}",
        f"/Patient?_count={HUGE}",
        f"/Patient/a/_history/{HUGE}",
        f"/Patient/a/_history?_count={HUGE}",
        f"/Patient/_history?_page={HUGE}",
        "/Patient/a/_history/2147483648",  # beyond the 32-bit version column
        "/Patient/a/_history/%C2%B2",  # a Unicode digit Python's isdigit() accepts
        "/Patient?_count=%C2%B2",
        "/Patient?_offset=-1",
    ],
)
async def test_integers_out_of_range_are_400(fhir: httpx.AsyncClient, path: str) -> None:
    _outcome(await fhir.get(path), 400)


async def test_if_match_beyond_the_version_range_is_400(fhir: httpx.AsyncClient) -> None:
    created = await fhir.post("/Patient", json={"resourceType": "Patient"})
    rid = created.json()["id"]
    body = {"resourceType": "Patient", "id": rid, "active": True}
    _outcome(await fhir.put(f"/Patient/{rid}", json=body, headers={"If-Match": f'W/"{HUGE}"'}), 400)
    _outcome(await fhir.delete(f"/Patient/{rid}", headers={"If-Match": f'W/"{HUGE}"'}), 400)
    assert (await fhir.get(f"/Patient/{rid}")).json()["meta"]["versionId"] == "1"


@pytest.mark.parametrize(
    "query",
    [
        "subject.organization.identifier:in=x",
        "subject.organization.partof.partof.identifier:below=x",
        "subject.organization.partof.partof.identifier:not-in=x",
        "_has:Observation:has-member:_has:Observation:has-member:code:in=x",
        "_has:Observation:has-member:_has:Observation:has-member:_has:Observation:has-member"
        ":_has:Observation:has-member:code=x",
    ],
)
async def test_searches_nesting_too_deep_are_400_not_supported(
    fhir: httpx.AsyncClient, query: str
) -> None:
    body = _outcome(await fhir.get(f"/Observation?{query}"), 400)
    assert body["issue"][0]["code"] == "not-supported"


async def test_a_chain_beyond_the_configured_depth_is_400(fhir: httpx.AsyncClient) -> None:
    _outcome(
        await fhir.get("/Observation?subject:Patient.organization.partof.partof.partof.name=x"), 400
    )


async def test_chained_terminology_within_the_bound_still_answers(fhir: httpx.AsyncClient) -> None:
    assert (await fhir.get("/Observation?subject.identifier:in=x")).status_code == 200
    below = "/Observation?subject.organization.partof.identifier:below=x"
    assert (await fhir.get(below)).status_code == 200
    chain = "/Observation?subject:Patient.organization.partof.partof.name=x"
    assert (await fhir.get(chain)).status_code == 200


async def test_control_characters_in_a_resource_are_400_naming_where(
    fhir: httpx.AsyncClient,
) -> None:
    body = {"resourceType": "Patient", "name": [{"family": "a\u0000b", "given": ["ok\tfine"]}]}
    outcome = _outcome(await fhir.post("/Patient", json=body), 400)
    issue = outcome["issue"][0]
    assert issue["expression"] == ["Patient.name[0].family"]
    _outcome(await fhir.put("/Patient/nul", json={**body, "id": "nul"}), 400)
    escape = {"resourceType": "Patient", "name": [{"text": "bell\u0007"}]}
    _outcome(await fhir.post("/Patient", json=escape), 400)
    assert (await fhir.get("/Patient")).json()["total"] == 0


async def test_tab_cr_lf_stay_allowed_in_strings(fhir: httpx.AsyncClient) -> None:
    body = {"resourceType": "Patient", "name": [{"text": "line one\r\nline\ttwo"}]}
    created = await fhir.post("/Patient", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["name"][0]["text"] == "line one\r\nline\ttwo"


@pytest.mark.parametrize(
    "query",
    ["name=a%00b", "identifier=x%00", "family:exact=%01", "_text=a%00", "na%00me=x"],
)
async def test_control_characters_in_a_search_are_400(fhir: httpx.AsyncClient, query: str) -> None:
    _outcome(await fhir.get(f"/Patient?{query}"), 400)
    form = {"content-type": "application/x-www-form-urlencoded"}
    _outcome(await fhir.post("/Patient/_search", content=query.encode(), headers=form), 400)


@pytest.mark.parametrize(
    "path",
    ["/fhir/Patient/a%00b", "/fhir/Patient/a/_history/1%01", "/admin/backends/primary/jobs/x%00y"],
)
async def test_control_characters_in_a_path_are_400(server: Server, tenant: str, path: str) -> None:
    """A NUL in a job id reached PostgreSQL (500, found by the fuzz test)."""
    async with httpx.AsyncClient(
        base_url=server.base_url, transport=server.transport, headers={"X-Tenant-ID": tenant}
    ) as client:
        _outcome(await client.get(path), 400)
        if "_history" not in path:  # DELETE of a version is 405 whatever the path holds
            _outcome(await client.delete(path), 400)


def _require_socket(server: Server) -> tuple[str, int]:
    if server.topology != "services":
        pytest.skip("needs the gateway behind a real socket (the services topology)")
    url = urlsplit(server.base_url)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


async def _exchange(
    writer: asyncio.StreamWriter, reader: asyncio.StreamReader, request: bytes
) -> tuple[int, dict[str, str], bytes]:
    writer.write(request)
    await writer.drain()
    status_line = await reader.readuntil(b"\r\n")
    headers: dict[str, str] = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def _raw(server: Server, request: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = _require_socket(server)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        return await _exchange(writer, reader, request)
    finally:
        writer.close()


async def test_unknown_method_is_405_outcome(server: Server, tenant: str) -> None:
    if server.topology == "inprocess":
        async with server.client(tenant) as fhir:
            _outcome(await fhir.request("FOO", "/Patient"), 405)
        return
    request = f"FOO /fhir/Patient HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: {tenant}\r\n\r\n"
    status, headers, body = await _raw(server, request.encode())
    assert status == 405
    assert headers["content-type"].startswith("application/fhir+json")
    assert orjson.loads(body)["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("header", ["If-Match", "If-None-Match"])
async def test_control_byte_in_a_precondition_header_is_400_outcome(
    server: Server, tenant: str, header: str
) -> None:
    request = f'GET /fhir/Patient/p1 HTTP/1.1\r\nHost: x\r\nX-Tenant-ID: {tenant}\r\n{header}: W/"1\x01"\r\n\r\n'
    status, headers, body = await _raw(server, request.encode())
    assert status == 400
    assert headers["content-type"].startswith("application/fhir+json")
    assert orjson.loads(body)["resourceType"] == "OperationOutcome"


async def test_connection_stays_usable_after_an_error(server: Server, tenant: str) -> None:
    """A kept-alive connection answers the next request after a 4xx on it."""
    host, port = _require_socket(server)
    reader, writer = await asyncio.open_connection(host, port)
    base = f"Host: x\r\nX-Tenant-ID: {tenant}\r\nAccept: application/fhir+json\r\n"
    try:
        nested = _nested(400)
        bad = (
            f"POST /fhir/Patient HTTP/1.1\r\n{base}Content-Type: application/fhir+json\r\n"
            f"Content-Length: {len(nested)}\r\n\r\n"
        ).encode() + nested
        status, _, body = await _exchange(writer, reader, bad)
        assert status == 400
        assert orjson.loads(body)["resourceType"] == "OperationOutcome"
        status, _, body = await _exchange(
            writer, reader, f"GET /fhir/Patient HTTP/1.1\r\n{base}\r\n".encode()
        )
        assert status == 200
        assert orjson.loads(body)["resourceType"] == "Bundle"
    finally:
        writer.close()
