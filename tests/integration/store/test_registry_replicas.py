"""Several primary-store replicas over one database see each other's SearchParameter changes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.search import parse_search
from polyfhir_core.tenancy import TenantContext
from support import NICKNAME

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
async def replicas(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, Any]]:
    """Two store services, each with its own connections and caches, over one database."""
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    first = await bootstrap(PrimarySettings(primary_url=url))
    second = await bootstrap(PrimarySettings(primary_url=url))
    try:
        yield first.service, second.service
    finally:
        await first.close()
        await second.close()


async def _put(service: Any, ctx: TenantContext, resource: dict[str, Any]) -> None:
    url = f"{resource['resourceType']}/{resource['id']}"
    await service.process(ctx, BundleKind.TRANSACTION, [EntryRequest(Method.PUT, url, resource)])


def _patient(pid: str, nickname: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"use": "official", "family": "Doe"}, {"use": "nickname", "given": [nickname]}],
    }


async def _nickname(service: Any, ctx: TenantContext, value: str) -> tuple[list[str], list[str]]:
    page = await service.search(ctx, parse_search("Patient", [("nickname", value)]))
    return sorted(r.id for r in page.resources), list(page.ignored)


async def test_a_search_parameter_written_on_one_replica_applies_on_the_other(
    replicas: tuple[Any, Any],
) -> None:
    a, b = replicas
    ctx = TenantContext.of(f"t{uuid.uuid4().hex[:10]}")
    # b caches the tenant's registry before the parameter exists: nickname is unknown
    assert (await _nickname(b, ctx, "Bunny"))[1] == ["nickname"]
    await _put(a, ctx, NICKNAME)
    await _put(b, ctx, _patient("p1", "Bunny"))  # written by b: indexed with the new parameter
    assert await _nickname(b, ctx, "Bun") == (["p1"], [])
    assert await _nickname(a, ctx, "Bun") == (["p1"], [])
    # retired through a: b no longer applies it (lenient search: ignored, so unfiltered)
    await _put(a, ctx, {**NICKNAME, "status": "retired"})
    assert (await _nickname(b, ctx, "Zzz"))[1] == ["nickname"]
