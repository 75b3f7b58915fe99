"""The tenant-isolation property through the whole stack: the gateway answering from the
search-indexer (full text), the graph-indexer (chains, `_has`, `$everything`) and the
terminology-indexer (operations, `:below`/`:in`) as well as the primary, every service a
process. Synchronous writes, so what tenant A wrote is in every secondary before tenant B
probes it (and A's own positive controls find it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from isolation_check import check_isolation
from polyfhir_engines.local_stack import LocalStack

pytestmark = pytest.mark.integration


@dataclass
class StackApi:
    base_url: str
    transport: httpx.AsyncBaseTransport | None = None


async def test_no_path_through_the_secondaries_reveals_another_tenant(
    fresh_stack: Callable[..., LocalStack],
) -> None:
    stack = fresh_stack("synchronous", graph=True, terminology=True)
    run = await check_isolation(StackApi(stack.base_url.removesuffix("/fhir")), "shared stack")
    print(run.summary)
    assert run.worlds > 0 and run.requests > 0
    assert not run.leaks, "\n".join([run.summary, *run.leaks, stack.logs()])
