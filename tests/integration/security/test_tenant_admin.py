"""The tenant lifecycle API with tokens on: only the admin scope opens it, and an
administrator manages its own tenant and those below it, never another."""

from __future__ import annotations

import uuid

import pytest

from integration.security.conftest import SecureServer

pytestmark = pytest.mark.integration


def _tenant() -> str:
    return f"adm{uuid.uuid4().hex[:10]}"


async def test_tenant_administration_needs_the_admin_scope(server: SecureServer) -> None:
    tenant = _tenant()
    clinical = server.issuer.token(tenant, "system/*.cruds")
    async with server.root(clinical) as clinician:
        for refused in (
            await clinician.get("/admin/tenants"),
            await clinician.post("/admin/tenants", json={"id": tenant}),
            await clinician.get(f"/admin/tenants/{tenant}"),
            await clinician.delete(f"/admin/tenants/{tenant}"),
        ):
            assert refused.status_code == 403, refused.text
            assert refused.json()["resourceType"] == "OperationOutcome"


async def test_an_admin_token_manages_its_tenant_and_those_below_only(
    server: SecureServer,
) -> None:
    tenant, stranger = _tenant(), _tenant()
    admin = server.issuer.token(tenant, "system/admin")
    async with server.root(admin) as operator:
        assert (await operator.post("/admin/tenants", json={"id": tenant})).status_code == 201
        child = await operator.post("/admin/tenants", json={"id": f"{tenant}/lab"})
        assert child.status_code == 201
        assert (await operator.post("/admin/tenants", json={"id": stranger})).status_code == 403
        assert (await operator.delete(f"/admin/tenants/{stranger}")).status_code == 403
        listed = (await operator.get("/admin/tenants")).json()["tenants"]
        assert [t["id"] for t in listed] == [tenant, f"{tenant}/lab"]
        # the header cannot move the token to another tenant's administration
        moved = await operator.get("/admin/tenants", headers={"X-Tenant-ID": stranger})
        assert moved.status_code == 403
