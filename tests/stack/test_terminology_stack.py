"""Terminology in the whole stack: the terminology-indexer consumes the change stream into
its SQLite file (its own consumer group) and answers the ``TerminologyIndex`` contract for
what was written through the gateway."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fakes.terminology_data import DISORDERS, disorders, is_a, value_set
from polyfhir_core.contracts.terminology import (
    TERMINOLOGY_INDEX,
    ExpandRequest,
    LookupRequest,
)
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.local_stack import LocalStack
from polyfhir_servicekit.contract_client import contract_client
from stack.conftest import fhir_client

pytestmark = pytest.mark.integration


async def test_a_code_system_written_through_the_gateway_is_looked_up_after_a_synchronous_write(
    fresh_stack: Callable[..., LocalStack], tenant: str
) -> None:
    stack = fresh_stack("synchronous", terminology=True)
    assert stack.terminology_indexer is not None
    with fhir_client(stack, tenant) as fhir:
        for body in (disorders(), value_set("http://x/stack-vs", [is_a("VIR")])):
            created = fhir.post(f"/{body['resourceType']}", json=body)
            assert created.status_code == 201, created.text
            # synchronous: every secondary (the terminology-indexer too) applied it in time
            assert "x-polyfhir-outcome" not in created.headers, stack.logs()
    ctx = TenantContext.of(tenant)
    async with httpx.AsyncClient(timeout=30.0) as http:
        index = contract_client(TERMINOLOGY_INDEX, stack.terminology_indexer.url, http)
        looked_up = await index.lookup(ctx, LookupRequest(DISORDERS, "COVID"))
        expansion = await index.expand(ctx, ExpandRequest(value_set_url="http://x/stack-vs"))
    assert looked_up.display == "Coronavirus disease"
    assert {e.code for e in expansion.contains} == {"VIR", "FLU", "COVID"}
