"""Scopes before routing: the search secondary never answers a caller without the
search scope, and a patient-confined caller is served by the primary, which confines
it to the compartment (the secondary knows nothing of compartments)."""

from __future__ import annotations

from typing import Any

import pytest

from integration.gateway.harness import build
from polyfhir_core.errors import Forbidden
from polyfhir_core.search import SearchParam, SearchQuery
from polyfhir_core.smart_scopes import permissions_from_scopes
from polyfhir_core.tenancy import TenantContext

pytestmark = pytest.mark.integration


async def test_full_text_respects_scopes_before_the_secondary(primary: Any) -> None:
    gw = build(primary)
    mine = await gw.patient("fever")
    await gw.patient("fever again")
    query = SearchQuery("Patient", params=(SearchParam("_text", ("fever",)),))

    everyone = TenantContext.of(gw.tenant, permissions_from_scopes(["user/Patient.rs"], None))
    served = await gw.pipeline.search(everyone, query)
    assert served.route == ("search", "primary")
    assert len(served.page.resources) == 2

    before = len(gw.fake.requests)
    read_only = TenantContext.of(gw.tenant, permissions_from_scopes(["user/Patient.r"], None))
    with pytest.raises(Forbidden):
        await gw.pipeline.search(read_only, query)
    confined = TenantContext.of(gw.tenant, permissions_from_scopes(["patient/*.rs"], mine))
    result = await gw.pipeline.search(confined, query)
    assert result.route == ("primary",)
    assert [r.id for r in result.page.resources] == [mine]
    search_only = TenantContext.of(gw.tenant, permissions_from_scopes(["user/Patient.s"], None))
    assert len((await gw.pipeline.search(search_only, query)).page.resources) == 2
    assert len(gw.fake.requests) == before  # none reached the search secondary
