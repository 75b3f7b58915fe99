"""SQLite's read transactions begin in their first statement's thread hop and commit
without being waited for: every read still sees the writes committed before it."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.errors import NotFound
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.search.query import parse_search
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.bootstrap import open_database
from polyfhir_primary.service_layer.store_service import StoreService
from polyfhir_primary.settings import PrimarySettings

pytestmark = pytest.mark.integration


async def _service(path: Path) -> StoreService:
    database = await open_database(
        PrimarySettings(primary_url=f"sqlite:///{path}", kafka_bootstrap="")
    )
    return StoreService(
        db=database, indexer=extract_index_values, registry=SearchParameterRegistry.default()
    )


async def _put(service: StoreService, ctx: TenantContext, family: str) -> None:
    body = {"resourceType": "Patient", "id": "p1", "name": [{"family": family}]}
    await service.process(
        ctx, BundleKind.TRANSACTION, [EntryRequest(Method.PUT, "Patient/p1", body)]
    )


async def test_every_read_sees_the_write_committed_before_it(tmp_path: Path) -> None:
    service = await _service(tmp_path / "reads.sqlite")
    ctx = TenantContext.of("reads")
    try:
        for version in range(1, 6):
            await _put(service, ctx, f"Family{version}")
            for _ in range(3):  # more reads than reader connections: each one in turn
                stored = await service.read(ctx, "Patient", "p1")
                assert stored.version == version
                assert stored.content is not None
                assert stored.content["name"][0]["family"] == f"Family{version}"
                page = await service.search(
                    ctx, parse_search("Patient", [("name", f"Family{version}")])
                )
                assert [s.id for s in page.resources] == ["p1"]
    finally:
        await service.db.close()


async def test_a_failed_read_leaves_its_connection_usable(tmp_path: Path) -> None:
    service = await _service(tmp_path / "failed.sqlite")
    ctx = TenantContext.of("failed")
    try:
        await _put(service, ctx, "Before")
        for _ in range(3):
            with pytest.raises(NotFound):
                await service.read(ctx, "Patient", "absent")
        await _put(service, ctx, "After")
        for _ in range(3):
            assert (await service.read(ctx, "Patient", "p1")).version == 2
    finally:
        await service.db.close()
