"""SMART App Launch scopes → :class:`TenantPermissions` (pure).

SMART v2 clinical scopes are ``<context>/<type>.<permissions>``: context
``patient``, ``user`` or ``system``; type a resource type or ``*``; permissions
an ordered, non-empty subset of ``cruds``. The v1 forms ``.read``, ``.write``
and ``.*`` are read as ``rs``, ``cud`` and ``cruds`` (the SMART v2 mapping).

| letter | interactions |
|---|---|
| c | create |
| r | read, vread, instance history |
| u | update, patch |
| d | delete |
| s | search, type and system history |

A ``patient/`` scope is confined to the token's patient (its ``patient``
claim): without that claim it grants nothing. Granular scopes with a query
(``patient/Observation.rs?category=laboratory``) and any other scope grant
nothing either: what is not understood is not allowed. The administration
scope (``system/admin`` unless configured) grants everything in the tenant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from polyfhir_core.tenancy import Grant, Operation, TenantPermissions

DEFAULT_ADMIN_SCOPE = "system/admin"

LETTERS: dict[str, frozenset[Operation]] = {
    "c": frozenset({Operation.CREATE}),
    "r": frozenset({Operation.READ, Operation.VREAD, Operation.HISTORY_INSTANCE}),
    "u": frozenset({Operation.UPDATE, Operation.PATCH}),
    "d": frozenset({Operation.DELETE}),
    "s": frozenset({Operation.SEARCH, Operation.HISTORY}),
}
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}

_CLINICAL = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]{0,63})"
    r"\.(?P<perms>read|write|\*|c?r?u?d?s?)$"
)


@dataclass(frozen=True, slots=True)
class ClinicalScope:
    context: str  # patient | user | system
    resource_type: str  # a type or "*"
    letters: str  # an ordered subset of "cruds"

    @property
    def operations(self) -> frozenset[Operation]:
        return frozenset().union(*(LETTERS[c] for c in self.letters))


def parse_clinical_scope(scope: str) -> ClinicalScope | None:
    """The clinical scope ``scope`` names, or None (not one, or not understood)."""
    match = _CLINICAL.match(scope)
    if match is None or not match["perms"]:
        return None
    letters = V1_PERMISSIONS.get(match["perms"], match["perms"])
    return ClinicalScope(match["context"], match["type"], letters)


def split_scopes(raw: str | Iterable[str]) -> tuple[str, ...]:
    """A token's ``scope`` claim: a space-separated string (RFC 8693) or a list (``scp``)."""
    parts = raw.split() if isinstance(raw, str) else [p for s in raw for p in str(s).split()]
    return tuple(dict.fromkeys(parts))


def permissions_from_scopes(
    scopes: Iterable[str], patient: str | None, admin_scope: str = DEFAULT_ADMIN_SCOPE
) -> TenantPermissions:
    """What a token with ``scopes`` (and the ``patient`` launch context) may do."""
    scopes = tuple(scopes)
    if admin_scope in scopes:
        return TenantPermissions.full_access()
    grants: list[Grant] = []
    for raw in scopes:
        scope = parse_clinical_scope(raw)
        if scope is None:
            continue
        compartment = None
        if scope.context == "patient":
            if not patient:
                continue
            compartment = f"Patient/{patient}"
        grants.append(Grant(scope.resource_type, scope.operations, compartment))
    return TenantPermissions(grants=tuple(grants))


def is_admin(scopes: Iterable[str], admin_scope: str = DEFAULT_ADMIN_SCOPE) -> bool:
    return admin_scope in tuple(scopes)
