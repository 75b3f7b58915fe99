"""SMART scopes on Bulk Data: a job runs later on the tenant's behalf, so its kick-off
is refused unless the caller may read (export) or write (import) every type it touches."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from integration.security.conftest import SecureServer

pytestmark = pytest.mark.integration

ASYNC = {"Prefer": "respond-async"}


def _tenant() -> str:
    return f"bulk-{uuid.uuid4().hex[:8]}"


async def _status(server: SecureServer, token: str, method: str, path: str, **kw: object) -> int:
    async with server.client(token=token) as client:
        response = await client.request(method, path, headers=ASYNC, **kw)  # type: ignore[arg-type]
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"
    return response.status_code


async def test_export_of_a_type_out_of_scope_is_403(server: SecureServer) -> None:
    token = server.issuer.token(_tenant(), "system/Patient.rs")
    assert await _status(server, token, "GET", "/$export?_type=Observation") == 403
    assert await _status(server, token, "GET", "/$export?_type=Patient,Observation") == 403


async def test_export_by_a_patient_confined_caller_is_403(server: SecureServer) -> None:
    token = server.issuer.token(_tenant(), "patient/*.rs", patient="p1")
    assert await _status(server, token, "GET", "/$export") == 403
    assert await _status(server, token, "GET", "/Patient/$export?_type=Observation") == 403


async def test_type_filter_needs_the_search_scope(server: SecureServer) -> None:
    token = server.issuer.token(_tenant(), "system/Observation.r")
    path = "/$export?_type=Observation&_typeFilter=Observation%3Fstatus%3Dfinal"
    assert await _status(server, token, "GET", path) == 403


async def test_import_needs_create_and_update_on_every_input_type(server: SecureServer) -> None:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "inputFormat", "valueCode": "application/fhir+ndjson"},
            {
                "name": "input",
                "part": [
                    {"name": "type", "valueCode": "Patient"},
                    {"name": "url", "valueUri": "http://127.0.0.1:9/Patient.ndjson"},
                ],
            },
        ],
    }
    tenant = _tenant()
    for scope in ("system/*.rs", "system/Patient.c", "system/Observation.cu"):
        token = server.issuer.token(tenant, scope)
        assert await _status(server, token, "POST", "/$import", json=body) == 403, scope


async def test_a_caller_with_read_scopes_exports_only_what_it_may_read(
    server: SecureServer,
) -> None:
    """The job runs on the tenant's behalf: a ``system/Patient.rs`` caller starts it and
    polls it, and the export holds Patients only (no ``_type``: narrowed to its scopes)."""
    tenant = _tenant()
    async with server.client(tenant) as admin:  # system/*.cruds
        for kind in ("Patient", "Organization"):
            assert (await admin.post(f"/{kind}", json={"resourceType": kind})).status_code == 201
    token = server.issuer.token(tenant, "system/Patient.rs")
    async with server.client(token=token) as client:
        kicked = await client.get("/$export", headers=ASYNC)
        assert kicked.status_code == 202, kicked.text
        status_url = kicked.headers["content-location"]
        for _ in range(600):
            status = await client.get(status_url)
            if status.status_code != 202:
                break
            await asyncio.sleep(0.1)  # polling the job's status, as a bulk client does
        assert status.status_code == 200, status.text
        assert {o["type"] for o in status.json()["output"]} == {"Patient"}
