"""A real FHIR client (fhirpy) against `polyfhir run` as a user starts it (one process)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fhirpy import AsyncFHIRClient

from polyfhir_engines.processes import free_port, spawn, stop, wait_http

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    data = tmp_path_factory.mktemp("cli")
    proc = spawn(
        [str(Path(sys.executable).parent / "polyfhir"), "run", "--port", str(port)],
        {"POLYFHIR_PRIMARY_URL": f"sqlite:///{data}/cli.db"},
        data / "server.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/fhir/metadata", proc)
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        stop(proc)


async def test_fhirpy_crud_and_search(cli_server: str) -> None:
    client = AsyncFHIRClient(cli_server, extra_headers={"X-Tenant-ID": "fhirpy"})
    patient = client.resource(
        "Patient",
        name=[{"family": "Lovelace", "given": ["Ada"]}],
        identifier=[{"system": "urn:test", "value": "ADA"}],
    )
    await patient.save()
    assert patient.id
    assert patient["meta"]["versionId"] == "1"
    patient["gender"] = "female"
    await patient.save()
    fetched = await client.reference("Patient", patient.id).to_resource()
    assert fetched["gender"] == "female"
    assert fetched["meta"]["versionId"] == "2"
    await fetched.patch(birthDate="1815-12-10")  # fhirpy sends a JSON Merge Patch
    patched = await client.reference("Patient", patient.id).to_resource()
    assert patched["birthDate"] == "1815-12-10"
    assert patched["gender"] == "female"
    assert patched["meta"]["versionId"] == "3"
    found = await client.resources("Patient").search(identifier="urn:test|ADA").fetch_all()
    assert [p.id for p in found] == [patient.id]
    await fetched.delete()  # type: ignore[no-untyped-call]  # fhirpy ships no annotation here
    assert await client.resources("Patient").search(identifier="urn:test|ADA").count() == 0
