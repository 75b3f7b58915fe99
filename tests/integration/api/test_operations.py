"""Operational surface: CapabilityStatement, probes and metrics on both services."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_capability_statement_describes_what_is_implemented(fhir: httpx.AsyncClient) -> None:
    response = await fhir.get("/metadata")
    assert response.status_code == 200
    cs = response.json()
    assert cs["resourceType"] == "CapabilityStatement"
    assert cs["fhirVersion"] == "4.0.1"
    rest = cs["rest"][0]
    assert {i["code"] for i in rest["interaction"]} >= {"transaction", "batch", "history-system"}
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    codes = {i["code"] for i in patient["interaction"]}
    assert codes >= {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "create",
        "search-type",
        "history-instance",
    }
    assert patient["conditionalDelete"] == "single"
    params = {p["name"] for p in patient["searchParam"]}
    assert {"_id", "_lastUpdated", "identifier", "gender", "birthdate", "name"} <= params
    observation = next(r for r in rest["resource"] if r["type"] == "Observation")
    claimed = {p["name"] for p in observation["searchParam"]}
    assert "value-quantity" in claimed
    assert "code-value-quantity" in claimed  # composites are answered, so claimed


async def test_capability_statement_lists_includes_operations_and_formats(
    fhir: httpx.AsyncClient,
) -> None:
    cs = (await fhir.get("/metadata")).json()
    by_type = {r["type"]: r for r in cs["rest"][0]["resource"]}
    patient, observation = by_type["Patient"], by_type["Observation"]
    assert {"*", "Patient:*", "Patient:organization"} <= set(patient["searchInclude"])
    assert {"*", "Observation:subject", "Encounter:subject"} <= set(patient["searchRevInclude"])
    assert "Observation:patient" in observation["searchInclude"]
    assert {o["name"] for o in patient["operation"]} == {"export", "everything"}
    assert patient["conditionalRead"] == "full-support"
    assert set(cs["patchFormat"]) == {
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/fhir+json",
    }
    # what the statement claims works: the listed includes are answered
    listed = await fhir.get("/Patient", params={"_revinclude": patient["searchRevInclude"][1]})
    assert listed.status_code == 200, listed.text


async def test_probes_and_metrics(server, fhir: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    await fhir.post("/Patient", json={"resourceType": "Patient"})
    async with httpx.AsyncClient(base_url=server.base_url, transport=server.transport) as ops:
        assert (await ops.get("/livez")).status_code == 200
        assert (await ops.get("/readyz")).json()["status"] == "ok"
        metrics = (await ops.get("/metrics")).text
    assert (
        'polyfhir_http_request_seconds_count{method="POST",route="/fhir/{rtype}",service="gateway",status="201"}'
        in metrics
    )
    assert "polyfhir_http_requests_in_flight" in metrics
    if server.topology == "inprocess":
        assert "polyfhir_storage_operation_seconds" in metrics
