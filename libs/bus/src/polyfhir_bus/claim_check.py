"""Redeeming claim checks: the body of an event too large for the broker, from the primary.

The batch consumer hands every event carrying ``resource_ref`` (see
:mod:`polyfhir_bus.codec`) to a :class:`ResourceVersions` before the indexer sees
the batch, so an indexer always receives whole events and needs no code of its own.
The one implementation reads the version with ``vread`` through the ``PrimaryStore``
contract (in-process or over HTTP, whichever the service was built with).
"""

from __future__ import annotations

from typing import Any, Protocol

from polyfhir_bus.events import ResourceChanged
from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_core.errors import Gone, NotFound
from polyfhir_core.tenancy import TenantContext, TenantId, TenantPermissions


class VersionUnavailable(LookupError):
    """The primary does not have the referenced version (and never will): dead-letter it."""


class ResourceVersions(Protocol):
    """Where a consumer reads the body a claim check refers to."""

    async def body_of(self, event: ResourceChanged) -> dict[str, Any]:
        """The resource of ``event``'s version; :class:`VersionUnavailable` when the primary
        does not have it, any other error when it cannot answer now (retried)."""


class PrimaryStoreVersions:
    """Claim checks redeemed with ``vread`` on the primary store, read-only, per tenant."""

    def __init__(self, store: PrimaryStore) -> None:
        self._store = store

    async def body_of(self, event: ResourceChanged) -> dict[str, Any]:
        ctx = TenantContext(TenantId(event.tenant), TenantPermissions.read_only())
        try:
            stored = await self._store.vread(
                ctx, event.resource_type, event.resource_id, event.version
            )
        except (NotFound, Gone) as exc:
            raise VersionUnavailable(f"{event.version_ref}: {exc}") from None
        if stored.content is None:
            raise VersionUnavailable(f"{event.version_ref} is a deletion in the primary")
        return stored.content
