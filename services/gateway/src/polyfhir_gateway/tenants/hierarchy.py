"""Which tenants a caller may manage (docs/tenancy.md "Lifecycle").

An administrator of ``acme`` manages ``acme`` and every tenant below it
(``acme/research``), never a sibling or a parent: the hierarchy is an
administrative structure, data stays isolated per tenant (docs/security.md).
"""

from __future__ import annotations

from polyfhir_core.errors import Forbidden
from polyfhir_core.tenancy import TenantContext, TenantId


def managed_tenant(caller: TenantContext, tenant: str) -> TenantContext:
    """The context to manage ``tenant`` with (the caller's permissions); Forbidden when
    it is neither the caller's tenant nor below it (an invalid id is a BadRequest)."""
    target = TenantId.parse(tenant)
    if target != caller.tenant and not target.is_descendant_of(caller.tenant):
        raise Forbidden(
            f"tenant {caller.tenant.value!r} may manage only itself and the tenants below it"
        )
    return TenantContext(target, caller.permissions, caller.request_id)
