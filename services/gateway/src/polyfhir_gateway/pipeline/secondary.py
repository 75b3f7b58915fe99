"""What the gateway's health checks and freshness waits need of any secondary.

Both ``SearchIndex`` and ``GraphIndex`` (``polyfhir_core.contracts``) satisfy
it: readiness, applied positions and the waits for positions and versions.
"""

from __future__ import annotations

from typing import Protocol

from polyfhir_core.contracts.search_index import AppliedVersion
from polyfhir_core.tenancy import TenantContext


class Secondary(Protocol):
    async def positions(self, ctx: TenantContext) -> dict[int, int]: ...

    async def wait_applied(
        self, ctx: TenantContext, versions: list[AppliedVersion], timeout_ms: int
    ) -> bool: ...

    async def wait_positions(
        self, ctx: TenantContext, positions: dict[int, int], timeout_ms: int
    ) -> bool: ...

    async def check_ready(self) -> None: ...
