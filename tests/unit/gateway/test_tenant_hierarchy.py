"""Which tenants a caller may manage: itself and the tenants below it."""

from __future__ import annotations

import pytest

from polyfhir_core.errors import BadRequest, Forbidden
from polyfhir_core.tenancy import TenantContext, TenantPermissions
from polyfhir_gateway.tenants.hierarchy import managed_tenant


@pytest.mark.parametrize("target", ["acme", "acme/research", "acme/research/onco", "/acme/x/"])
def test_a_caller_manages_itself_and_below(target: str) -> None:
    caller = TenantContext.of("acme", TenantPermissions.read_only())
    managed = managed_tenant(caller, target)
    assert managed.tenant.value == target.strip("/")
    assert managed.permissions == caller.permissions  # never more than the caller's


@pytest.mark.parametrize("target", ["globex", "acmeco", "acme-research"])
def test_a_sibling_or_a_lookalike_is_forbidden(target: str) -> None:
    with pytest.raises(Forbidden):
        managed_tenant(TenantContext.of("acme"), target)


def test_a_child_cannot_manage_its_parent() -> None:
    with pytest.raises(Forbidden):
        managed_tenant(TenantContext.of("acme/research"), "acme")


def test_an_invalid_id_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        managed_tenant(TenantContext.of("acme"), "acme/bad id")
