"""Bearer tokens over the API: who gets in, who gets 401/403, what stays public."""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from integration.security.conftest import SecureServer

pytestmark = pytest.mark.integration


def _tenant() -> str:
    return f"sec{uuid.uuid4().hex[:10]}"


def _assert_challenge(response: httpx.Response, error: str | None = "invalid_token") -> None:
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    if error:
        assert f'error="{error}"' in challenge
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_valid_token_reads_and_writes(server: SecureServer) -> None:
    async with server.client(_tenant()) as fhir:
        created = await fhir.post("/Patient", json={"resourceType": "Patient"})
        assert created.status_code == 201
        assert (await fhir.get(f"/Patient/{created.json()['id']}")).status_code == 200


async def test_missing_token_is_401_without_error_code(server: SecureServer) -> None:
    async with server.client(None, **{"X-Tenant-ID": _tenant()}) as anonymous:
        _assert_challenge(await anonymous.get("/Patient"), error=None)
        _assert_challenge(
            await anonymous.post("/Patient", json={"resourceType": "Patient"}), error=None
        )


async def test_bad_tokens_are_401(server: SecureServer) -> None:
    issuer = server.issuer
    tenant = _tenant()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {"iss": "https://issuer.test.example", "aud": "x", "tenant": tenant, "exp": 2**31},
        stranger,
        algorithm="RS256",
        headers={"kid": issuer.current},  # a known kid, signed by another key
    )
    bad = {
        "malformed": "not.a.jwt",
        "forged": forged,
        "expired": issuer.token(tenant, "system/*.cruds", expires_in=-3600),
        "wrong audience": issuer.token(tenant, "system/*.cruds", aud="https://elsewhere"),
        "wrong issuer": issuer.token(tenant, "system/*.cruds", iss="https://evil.example"),
        "not yet valid": issuer.token(tenant, "system/*.cruds", nbf=2**31),
    }
    for what, token in bad.items():
        async with server.client(token=token) as fhir:
            response = await fhir.get("/Patient")
            _assert_challenge(response)
            assert tenant not in response.text, what
    async with server.client(None, Authorization="Basic dXNlcjpwYXNz") as basic:
        _assert_challenge(await basic.get("/Patient"), error="invalid_request")


async def test_token_without_tenant_claim_is_401(server: SecureServer) -> None:
    token = server.issuer.token("ignored", "system/*.cruds", tenant=None)
    async with server.client(token=token) as fhir:
        _assert_challenge(await fhir.get("/Patient"))


async def test_metadata_and_smart_configuration_are_public(server: SecureServer) -> None:
    async with server.client(None) as anonymous:
        metadata = await anonymous.get("/metadata")
        assert metadata.status_code == 200
        security = metadata.json()["rest"][0]["security"]
        assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
        assert "https://issuer.test.example" in security["description"]
        smart = await anonymous.get("/.well-known/smart-configuration")
        assert smart.status_code == 200
        assert smart.json()["issuer"] == "https://issuer.test.example"
        assert "permission-v2" in smart.json()["capabilities"]


async def test_tenant_comes_from_the_token_only(server: SecureServer) -> None:
    mine, other = _tenant(), _tenant()
    async with server.client(mine) as a:
        rid = (await a.post("/Patient", json={"resourceType": "Patient"})).json()["id"]
    # the header cannot move a token to another tenant, nor to a child of its own
    for header in (other, f"{mine}/research"):
        token = server.issuer.token(mine, "system/*.cruds")
        async with server.client(token=token, **{"X-Tenant-ID": header}) as moved:
            refused = await moved.get(f"/Patient/{rid}")
            assert refused.status_code == 403
            assert refused.json()["resourceType"] == "OperationOutcome"
    # the header naming the token's own tenant is fine
    token = server.issuer.token(mine, "system/*.cruds")
    async with server.client(token=token, **{"X-Tenant-ID": mine}) as same:
        assert (await same.get(f"/Patient/{rid}")).status_code == 200


async def test_parent_token_does_not_reach_child_tenant(server: SecureServer) -> None:
    parent = _tenant()
    async with server.client(f"{parent}/research") as child:
        rid = (await child.post("/Patient", json={"resourceType": "Patient"})).json()["id"]
        assert (await child.get(f"/Patient/{rid}")).status_code == 200
    async with server.client(parent) as p:
        assert (await p.get(f"/Patient/{rid}")).status_code == 404
        assert (await p.get("/Patient", params={"_id": rid})).json()["total"] == 0


async def test_admin_needs_the_admin_scope(server: SecureServer) -> None:
    tenant = _tenant()
    async with server.root() as anonymous:
        _assert_challenge(await anonymous.post("/admin/reindex", json={}), error=None)
    clinical = server.issuer.token(tenant, "system/*.cruds")
    async with server.root(clinical) as clinician:
        refused = await clinician.post("/admin/reindex", json={})
        assert refused.status_code == 403
        assert (await clinician.get("/admin/backends")).status_code == 403
    admin = server.issuer.token(tenant, "system/admin")
    async with server.root(admin) as operator:
        assert (await operator.post("/admin/reindex", json={})).status_code == 202


async def test_key_rotation_new_kid_is_fetched(server: SecureServer) -> None:
    tenant = _tenant()
    async with server.client(tenant) as before:
        assert (await before.get("/Patient")).status_code == 200  # JWKS cached now
    new_kid = server.issuer.add_key("ES256")  # the issuer publishes a new key
    token = server.issuer.token(tenant, "system/*.cruds", kid=new_kid)
    async with server.client(token=token) as after:
        assert (await after.get("/Patient")).status_code == 200
