"""Tenants, tenant contexts and permissions.

A tenant id is hierarchical (``acme/research/oncology``). Data isolation is
exact: a tenant sees its own data only, never its parent's or children's
(``is_descendant_of`` exists for administration and permission checks).

Permissions are what the gateway derived from the caller's token (SMART scopes,
``polyfhir_core.smart_scopes``); they travel with every store call and the
primary enforces them (docs/security.md).
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
    HISTORY = "history"  # type- and system-level history (SMART ``s``)
    HISTORY_INSTANCE = "history-instance"  # one resource's history (SMART ``r``)
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


ANY_TYPE = "*"


@dataclass(frozen=True, slots=True)
class Grant:
    """``operations`` on ``resource_type`` (``*``: every type), confined to the
    ``compartment`` (``Patient/123``) when set: one SMART scope, resolved."""

    resource_type: str
    operations: frozenset[Operation]
    compartment: str | None = None

    def covers(self, operation: Operation, resource_type: str | None) -> bool:
        """``resource_type`` None is a system-level call: only ``*`` covers it."""
        if operation not in self.operations:
            return False
        return self.resource_type in (ANY_TYPE, resource_type)


@dataclass(frozen=True, slots=True)
class TenantPermissions:
    """What a caller may do inside its tenant.

    ``operations`` x ``resource_types`` (None: every type) bound everything;
    ``grants`` (None: no further limit) are the caller's SMART scopes: an
    operation on a type is allowed when some grant covers it. ``compartment``
    (``Patient/123``) confines every type of that compartment, and a grant's
    own compartment confines what only that grant allows.
    """

    operations: frozenset[Operation] = frozenset(Operation)
    resource_types: frozenset[str] | None = None
    compartment: str | None = None
    grants: tuple[Grant, ...] | None = None

    @classmethod
    def full_access(cls) -> TenantPermissions:
        return cls()

    @classmethod
    def read_only(cls) -> TenantPermissions:
        return cls(operations=frozenset(o for o in Operation if not o.is_write))

    def allows(self, operation: Operation, resource_type: str | None = None) -> bool:
        if operation not in self.operations:
            return False
        if not (
            resource_type is None
            or self.resource_types is None
            or resource_type in self.resource_types
        ):
            return False
        return self.grants is None or any(g.covers(operation, resource_type) for g in self.grants)

    def require(self, operation: Operation, resource_type: str | None = None) -> None:
        if not self.allows(operation, resource_type):
            target = f" on {resource_type}" if resource_type else ""
            raise Forbidden(f"operation {operation.value}{target} is not permitted for this caller")

    def confinement(self, operation: Operation, resource_type: str) -> str | None:
        """The compartment (``Patient/123``) that ``operation`` on ``resource_type`` is
        confined to, or None. Types outside that compartment's definition
        (Medication, Organization, ...) are never confined: they are shared."""
        compartment = self.compartment
        if compartment is None and self.grants is not None:
            covering = [g for g in self.grants if g.covers(operation, resource_type)]
            if covering and all(g.compartment is not None for g in covering):
                compartment = covering[0].compartment
        if compartment is None:
            return None
        # imported here: the registry package imports this module (TenantId)
        from polyfhir_core.registry.compartments import compartment_params

        ctype = compartment.split("/", 1)[0]
        return compartment if compartment_params(ctype, resource_type) is not None else None


@dataclass(frozen=True, slots=True)
class TenantContext:
    """Required by every storage call: whose data, and what the caller may do."""

    tenant: TenantId
    permissions: TenantPermissions = field(default_factory=TenantPermissions.full_access)
    request_id: str = ""

    @classmethod
    def of(cls, tenant: str, permissions: TenantPermissions | None = None) -> TenantContext:
        return cls(TenantId.parse(tenant), permissions or TenantPermissions.full_access())
