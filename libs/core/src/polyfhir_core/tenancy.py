"""Tenants, tenant contexts and permissions.

A tenant id is hierarchical (``acme/research/oncology``). Data isolation is
exact: a tenant sees its own data only, never its parent's or children's
(``is_descendant_of`` exists for administration and permission checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from polyfhir_core.errors import BadRequest, Forbidden

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,62}$")
MAX_DEPTH = 8


@dataclass(frozen=True, slots=True, order=True)
class TenantId:
    """A validated hierarchical tenant id, segments separated by ``/``."""

    value: str

    def __post_init__(self) -> None:
        parts = self.value.split("/")
        if not self.value or len(parts) > MAX_DEPTH or not all(_SEGMENT.match(p) for p in parts):
            raise BadRequest(
                f"invalid tenant id {self.value!r}: 1-{MAX_DEPTH} '/'-separated segments of "
                "letters, digits, '-' or '_' (max 63 characters each)"
            )

    @classmethod
    def parse(cls, value: str) -> TenantId:
        return cls(value.strip().strip("/"))

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.value.split("/"))

    @property
    def parent(self) -> TenantId | None:
        segs = self.segments
        return TenantId("/".join(segs[:-1])) if len(segs) > 1 else None

    @property
    def root(self) -> TenantId:
        return TenantId(self.segments[0])

    @property
    def depth(self) -> int:
        return len(self.segments)

    def is_descendant_of(self, other: TenantId) -> bool:
        """True when ``self`` lies strictly below ``other``."""
        return self.value.startswith(other.value + "/")

    def __str__(self) -> str:
        return self.value


class Operation(StrEnum):
    READ = "read"
    VREAD = "vread"
    SEARCH = "search"
    HISTORY = "history"
    CREATE = "create"
    UPDATE = "update"
    PATCH = "patch"
    DELETE = "delete"
    REINDEX = "reindex"  # rebuild the tenant's search index (administration)

    @property
    def is_write(self) -> bool:
        return self in _WRITES


_WRITES = frozenset(
    {Operation.CREATE, Operation.UPDATE, Operation.PATCH, Operation.DELETE, Operation.REINDEX}
)


@dataclass(frozen=True, slots=True)
class TenantPermissions:
    """What a caller may do inside its tenant.

    ``resource_types`` None means every type. ``compartment`` restricts reads
    to one compartment (for example ``Patient/123``); enforcing it on searches
    arrives with compartment search.
    """

    operations: frozenset[Operation] = frozenset(Operation)
    resource_types: frozenset[str] | None = None
    compartment: str | None = None

    @classmethod
    def full_access(cls) -> TenantPermissions:
        return cls()

    @classmethod
    def read_only(cls) -> TenantPermissions:
        return cls(operations=frozenset(o for o in Operation if not o.is_write))

    def allows(self, operation: Operation, resource_type: str | None = None) -> bool:
        if operation not in self.operations:
            return False
        return (
            resource_type is None
            or self.resource_types is None
            or resource_type in self.resource_types
        )

    def require(self, operation: Operation, resource_type: str | None = None) -> None:
        if not self.allows(operation, resource_type):
            target = f" on {resource_type}" if resource_type else ""
            raise Forbidden(f"operation {operation.value}{target} is not permitted for this caller")


@dataclass(frozen=True, slots=True)
class TenantContext:
    """Required by every storage call: whose data, and what the caller may do."""

    tenant: TenantId
    permissions: TenantPermissions = field(default_factory=TenantPermissions.full_access)
    request_id: str = ""

    @classmethod
    def of(cls, tenant: str, permissions: TenantPermissions | None = None) -> TenantContext:
        return cls(TenantId.parse(tenant), permissions or TenantPermissions.full_access())
