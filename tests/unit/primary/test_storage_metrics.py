"""Reads are timed like writes: polyfhir_storage_operation_seconds{operation=read|vread|
read_many|search|history}, failures included; the pool gauges read the pool at scrape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import REGISTRY

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, HistoryQuery, Method
from polyfhir_core.errors import NotFound
from polyfhir_core.resources import ResourceKey
from polyfhir_core.search import parse_search
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.metrics import watch_pool
from polyfhir_primary.service_layer.store_service import StoreService


def _count(operation: str) -> float:
    value = REGISTRY.get_sample_value(
        "polyfhir_storage_operation_seconds_count", {"operation": operation}
    )
    return value or 0.0


async def test_every_read_path_is_timed(service: StoreService, ctx: TenantContext) -> None:
    body = {"resourceType": "Patient", "id": "m1"}
    await service.process(
        ctx, BundleKind.TRANSACTION, [EntryRequest(Method.PUT, "Patient/m1", body)]
    )
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "read": lambda: service.read(ctx, "Patient", "m1"),
        "vread": lambda: service.vread(ctx, "Patient", "m1", 1),
        "read_many": lambda: service.read_many(ctx, [ResourceKey("Patient", "m1")]),
        "search": lambda: service.search(ctx, parse_search("Patient", [("_id", "m1")])),
        "history": lambda: service.history(ctx, HistoryQuery(resource_type="Patient", id="m1")),
    }
    for operation, call in calls.items():
        before = _count(operation)
        await call()
        assert _count(operation) == before + 1, operation


async def test_a_failed_read_is_timed_too(service: StoreService, ctx: TenantContext) -> None:
    before = _count("read")
    with pytest.raises(NotFound):
        await service.read(ctx, "Patient", "missing")
    assert _count("read") == before + 1


class Pool:
    def __init__(self) -> None:
        self.size, self.idle = 4, 1

    def get_size(self) -> int:
        return self.size

    def get_idle_size(self) -> int:
        return self.idle

    def get_max_size(self) -> int:
        return 10


def test_pool_gauges_read_the_pool_at_each_scrape() -> None:
    pool = Pool()
    watch_pool(pool)
    assert REGISTRY.get_sample_value("polyfhir_db_pool_in_use") == 3
    pool.idle = 4
    assert REGISTRY.get_sample_value("polyfhir_db_pool_in_use") == 0
    assert REGISTRY.get_sample_value("polyfhir_db_pool_size") == 4
    assert REGISTRY.get_sample_value("polyfhir_db_pool_max_size") == 10
