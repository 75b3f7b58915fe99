"""Deleting a tenant in the whole stack: the search index, the graph and the bulk
output files lose the tenant too, and the deletion reports what each store removed
(docs/tenancy.md "Lifecycle"). Another tenant keeps its entries everywhere."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from polyfhir_core.contracts.graph_index import GRAPH_INDEX
from polyfhir_core.contracts.search_index import SEARCH_INDEX
from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.local_stack import LocalStack
from polyfhir_servicekit.contract_client import ServiceClients
from stack.conftest import eventually, fhir_client, patient

pytestmark = pytest.mark.integration


def _entries(stack: LocalStack, tenant: str) -> dict[str, list[IndexedVersion]]:
    """What the search index and the graph hold for ``tenant``, asked of their services."""
    graph_indexer = stack.graph_indexer
    assert graph_indexer is not None
    graph_url = graph_indexer.url

    async def scan() -> dict[str, list[IndexedVersion]]:
        clients = ServiceClients()
        try:
            search = clients.connect(SEARCH_INDEX, stack.indexer.url)
            graph = clients.connect(GRAPH_INDEX, graph_url)
            ctx = TenantContext.of(tenant)
            return {
                "search": await search.scan(ctx, None, 100),
                "graph": await graph.scan(ctx, None, 100),
            }
        finally:
            await clients.close()

    return asyncio.run(scan())


def _write(fhir: httpx.Client, marker: str) -> list[str]:
    written = []
    for n in range(3):
        created = fhir.post("/Patient", json=patient(marker, n))
        assert created.status_code == 201, created.text
        written.append(created.json()["id"])
    return written


def _export_folder(fhir: httpx.Client, bulk: Path) -> Path:
    kicked = fhir.get("/$export", headers={"prefer": "respond-async"})
    assert kicked.status_code == 202, kicked.text
    status_url = kicked.headers["content-location"]
    eventually(lambda: fhir.get(status_url).status_code == 200, what="the export")
    folder = bulk / status_url.rstrip("/").rsplit("/", 1)[-1]
    assert folder.is_dir() and any(folder.iterdir()), list(bulk.iterdir())
    return folder


@pytest.mark.parametrize("primary", ["sqlite", "postgresql"])
def test_deleting_a_tenant_empties_every_store(
    fresh_stack: Callable[..., LocalStack],
    tmp_path: Path,
    tenant: str,
    marker: str,
    primary: str,
) -> None:
    bulk = tmp_path / "bulk"
    stack = fresh_stack(
        "synchronous",
        graph=True,
        embedded_postgres=primary == "postgresql",  # row-level security under the relay too
        extra_env={"POLYFHIR_BULK_OUTPUT_DIR": str(bulk)},
    )
    other = f"k{uuid.uuid4().hex[:12]}"
    with fhir_client(stack, tenant) as fhir, fhir_client(stack, other) as fhir_other:
        _write(fhir, marker)
        kept = _write(fhir_other, marker)
        export = _export_folder(fhir, bulk)
        before = _entries(stack, tenant)
        assert [len(found) for found in before.values()] == [3, 3], before

        admin = httpx.Client(base_url=stack.gateway.url, headers={"X-Tenant-ID": tenant})
        with admin:
            started = admin.delete(f"/admin/tenants/{tenant}")
            assert started.status_code == 202, started.text
            location = started.headers["content-location"]

            def finished() -> dict[str, Any] | None:
                body: dict[str, Any] = admin.get(location).json()
                return body if body["state"] != "running" else None

            job = eventually(finished, 120.0, what="the tenant deletion")  # > the job's 30 s bound
        assert job["state"] == "completed", (job, stack.logs())
        removed = job["removed"]
        assert removed["primary"]["resources"] == 3
        assert sorted(removed["secondaries"].values()) == [3, 3], removed
        assert removed["bulkFiles"] == 1
        assert not export.exists()
        assert _entries(stack, tenant) == {"search": [], "graph": []}
        assert sorted(e.id for e in _entries(stack, other)["search"]) == sorted(kept)
        text = fhir_other.get("/Patient", params={"_text": marker})
        assert sorted(e["resource"]["id"] for e in text.json()["entry"]) == sorted(kept)
