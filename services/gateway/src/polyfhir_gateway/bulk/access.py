"""What a caller's SMART scopes allow of Bulk Data (docs/security.md, docs/bulk-data.md).

Bulk jobs run later, in the gateway's job runner, on the tenant's behalf: the
scopes are therefore checked at kick-off, once for every type the job will touch.

- ``$export``: ``r`` on every exported type. Without ``_type`` the export covers
  the types the caller may read (the IG: only what the client is authorised for);
  a ``_type`` the caller may not read is refused (403), as is ``_typeFilter`` on a
  type the caller may not search. A caller confined to a compartment (``patient/``
  scopes) cannot export: a snapshot is the whole type.
- ``$import``: ``c`` and ``u`` on every input type (ids are upserted).
"""

from __future__ import annotations

from dataclasses import replace

from polyfhir_core.errors import Forbidden
from polyfhir_core.tenancy import Operation, TenantContext, TenantPermissions
from polyfhir_gateway.bulk.export_request import ExportRequest


def _require_unconfined(permissions: TenantPermissions, rtype: str) -> None:
    if permissions.confinement(Operation.READ, rtype) is not None:
        raise Forbidden("bulk export is not available to a compartment-confined caller")


def export_within_scopes(
    permissions: TenantPermissions, export: ExportRequest, explicit_types: bool
) -> ExportRequest:
    """The export the caller may start: its types narrowed (no ``_type``) or checked."""
    if explicit_types:
        for rtype in export.types:
            permissions.require(Operation.READ, rtype)
        types = list(export.types)
    else:
        types = [t for t in export.types if permissions.allows(Operation.READ, t)]
        if not types:
            raise Forbidden("no resource type of this export may be read by this caller")
    for rtype in types:
        _require_unconfined(permissions, rtype)
    for rtype in export.type_filters:
        permissions.require(Operation.SEARCH, rtype)
    return replace(export, types=types)


def require_import(permissions: TenantPermissions, types: list[str]) -> None:
    for rtype in types:
        permissions.require(Operation.CREATE, rtype)
        permissions.require(Operation.UPDATE, rtype)


def bulk_caller(ctx: TenantContext, operation: Operation) -> TenantContext:
    """The context a bulk job's records are kept and read in.

    The job runs for the tenant, not for one request: its records live in the job
    store, whose calls are administrative. A caller who may use Bulk Data at all
    (``operation`` on some type, not confined to a compartment) reaches its tenant's
    bulk jobs through this context; the kick-off has already checked every type."""
    permissions, grants = ctx.permissions, ctx.permissions.grants
    if grants is None:
        allowed = permissions.allows(operation) and permissions.compartment is None
    else:
        allowed = any(operation in g.operations for g in grants) and not any(
            g.compartment for g in grants
        )
    if not allowed:
        raise Forbidden(f"bulk data needs a {operation.value} scope not confined to a compartment")
    return replace(ctx, permissions=TenantPermissions.full_access())
