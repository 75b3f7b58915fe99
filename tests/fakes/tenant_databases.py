"""A tenant database as the bound on open databases sees it: something that opens
and closes (``polyfhir_primary.adapters.sql.tenancy.tenant_pools.Closable``)."""

from __future__ import annotations

from polyfhir_primary.adapters.sql.tenancy.registry import Placement


class ClosableDatabase:
    """Records its opening and closing in a shared log."""

    def __init__(self, placement: Placement, log: list[str]) -> None:
        self.placement, self.log = placement, log
        log.append(f"open {placement.tenant}")

    async def close(self) -> None:
        self.log.append(f"close {self.placement.tenant}")
