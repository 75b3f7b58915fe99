"""The terminology index of ``polyfhir run`` (no Kafka): the same service, fed by pulling the
tenant's definitions from the in-process primary store before each call; SQLite and
PostgreSQL under both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fakes.events import unique
from fakes.terminology_data import DISORDERS, disorders, is_a, value_set
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.contracts.terminology import ExpandRequest, LookupRequest, TerminologyIndex
from polyfhir_core.errors import NotFound
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.bootstrap import bootstrap as primary_bootstrap
from polyfhir_primary.settings import PrimarySettings
from polyfhir_terminology.bootstrap import embedded
from polyfhir_terminology.settings import TerminologySettings

from .conftest import engine_url

pytestmark = pytest.mark.integration


class Embedded:
    def __init__(self, primary: Any, index: TerminologyIndex) -> None:
        self.primary = primary
        self.index = index
        self.ctx = TenantContext.of(unique("tenant"))

    async def put(self, rid: str, body: dict[str, Any]) -> None:
        entry = EntryRequest(Method.PUT, f"{body['resourceType']}/{rid}", {**body, "id": rid})
        await self.primary.process(self.ctx, BundleKind.TRANSACTION, [entry])

    async def delete(self, rtype: str, rid: str) -> None:
        entry = EntryRequest(Method.DELETE, f"{rtype}/{rid}")
        await self.primary.process(self.ctx, BundleKind.TRANSACTION, [entry])


@pytest.fixture(params=["sqlite", "postgresql"])
async def setup(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Embedded]:
    url = engine_url(str(request.param), request, tmp_path)
    primary_url = url if request.param == "postgresql" else f"sqlite:///{tmp_path}/primary.db"
    primary = await primary_bootstrap(PrimarySettings(primary_url=primary_url))
    terminology = await embedded(primary.service, TerminologySettings(terminology_url=url))
    try:
        yield Embedded(primary.service, terminology.index)
    finally:
        await terminology.close()
        await primary.close()


async def test_definitions_written_to_the_primary_are_answered(setup: Embedded) -> None:
    e = setup
    with pytest.raises(NotFound):
        await e.index.lookup(e.ctx, LookupRequest(DISORDERS, "BAC"))
    await e.put("cs", disorders())
    await e.put("vs", value_set("http://x/vs", [is_a("VIR")]))
    assert (await e.index.lookup(e.ctx, LookupRequest(DISORDERS, "BAC"))).display == (
        "Bacterial infection"
    )
    expansion = await e.index.expand(e.ctx, ExpandRequest(value_set_url="http://x/vs"))
    assert expansion.total == 3


async def test_changes_and_deletes_reach_it_on_the_next_call(setup: Embedded) -> None:
    e = setup
    await e.put("cs", disorders())
    await e.put("vs", value_set("http://x/vs", [is_a("INF")]))
    assert (await e.index.expand(e.ctx, ExpandRequest(value_set_url="http://x/vs"))).total == 6
    await e.put("vs", value_set("http://x/vs", [is_a("BAC")]))
    assert (await e.index.expand(e.ctx, ExpandRequest(value_set_url="http://x/vs"))).total == 2
    await e.delete("CodeSystem", "cs")
    with pytest.raises(NotFound):
        await e.index.lookup(e.ctx, LookupRequest(DISORDERS, "BAC"))
    stats = await e.index.stats(e.ctx)
    assert (stats.code_systems, stats.value_sets) == (0, 1)


async def test_another_tenant_pulls_only_its_own(setup: Embedded) -> None:
    e = setup
    await e.put("cs", disorders())
    other = TenantContext.of(unique("tenant"))
    with pytest.raises(NotFound):
        await e.index.lookup(other, LookupRequest(DISORDERS, "BAC"))
