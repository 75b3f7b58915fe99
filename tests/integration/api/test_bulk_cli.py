"""``polyfhir export`` / ``polyfhir import`` against a server process (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from polyfhir import bulk_cli

pytestmark = pytest.mark.integration


async def test_export_then_import_into_another_tenant(
    server: Any, tenant: str, bulk_import_dir: Path
) -> None:
    if server.topology != "services":
        pytest.skip("the CLI talks HTTP to a server process")
    async with server.client(tenant) as fhir:
        for n in range(3):
            await fhir.put(f"/Patient/c{n}", json={"resourceType": "Patient", "id": f"c{n}"})
    base = f"{server.base_url}/fhir"
    out = bulk_import_dir / uuid.uuid4().hex
    code = await asyncio.to_thread(bulk_cli.export, base, tenant, "/$export", {}, out)
    assert code == 0
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert [(o["type"], o["count"]) for o in manifest["output"]] == [("Patient", 3)]
    assert len((out / "Patient-1.ndjson").read_bytes().splitlines()) == 3

    other = f"t{uuid.uuid4().hex[:12]}"
    inputs = bulk_cli.import_inputs([str(out)], None)
    assert [i["type"] for i in inputs] == ["Patient"]
    assert await asyncio.to_thread(bulk_cli.import_, base, other, inputs) == 0
    async with server.client(other) as fhir:
        assert (await fhir.get("/Patient/c2")).status_code == 200
