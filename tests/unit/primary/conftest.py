"""The primary's service layer over the in-memory store (``tests/fakes/primary_store.py``)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from fakes.primary_store import FakeDatabase
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.tenancy import TenantContext, TenantId
from polyfhir_primary.service_layer.store_service import StoreService

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
REGISTRY = SearchParameterRegistry.default()


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def service(db: FakeDatabase) -> StoreService:
    ids = itertools.count(1)
    return StoreService(
        db=db,
        indexer=extract_index_values,
        registry=REGISTRY,
        clock=lambda: NOW,
        new_id=lambda: f"id{next(ids)}",
    )


@pytest.fixture
def ctx() -> TenantContext:
    return TenantContext(TenantId("acme"))
