"""Token verification and the caller it yields (pure: a static JWKS, no network)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from polyfhir_core.errors import Forbidden
from polyfhir_core.tenancy import Operation
from polyfhir_gateway.security.audit import interaction_of
from polyfhir_gateway.security.bootstrap import SecurityConfigurationError, build_verifier
from polyfhir_gateway.security.caller import caller_from_claims
from polyfhir_gateway.security.dev_issuer import DevIssuer
from polyfhir_gateway.security.keys import KeyNotFound, RemoteKeys, StaticKeys
from polyfhir_gateway.security.tokens import BearerChallenge, TokenVerifier, bearer_token
from polyfhir_gateway.settings import GatewaySettings

ISS, AUD = "https://issuer.example", "https://fhir.example/fhir"
KEY = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())


def _jwks() -> dict[str, Any]:
    jwk = ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": "k1", "alg": "ES256"}]}


VERIFIER = TokenVerifier(StaticKeys(_jwks()), ISS, AUD, ("ES256",), leeway_seconds=30)


def _token(key: Any = KEY, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISS, "aud": AUD, "exp": now + 60, "tenant": "acme", "sub": "u1", **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, "ES256", {"kid": kid})


async def test_a_good_token_gives_its_claims() -> None:
    claims = await VERIFIER.verify(_token(scope="user/*.rs"))
    assert claims["tenant"] == "acme"


async def test_small_clock_skew_is_tolerated() -> None:
    assert await VERIFIER.verify(_token(exp=int(time.time()) - 10))


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: "x.y.z", "malformed"),
        (lambda: _token(key=OTHER), "not valid"),
        (lambda: _token(kid="unknown"), "signing key"),
        (lambda: _token(exp=int(time.time()) - 3600), "expired"),
        (lambda: _token(aud="https://other"), "audience"),
        (lambda: _token(iss="https://other"), "issuer"),
        (lambda: _token(exp=None), "not valid"),
        (
            lambda: jwt.encode({"iss": ISS}, "secret-secret-secret-secret-32b!", "HS256"),
            "algorithm",
        ),
    ],
)
async def test_bad_tokens_are_challenged(token: Any, reason: str) -> None:
    with pytest.raises(BearerChallenge) as caught:
        await VERIFIER.verify(token())
    assert reason in caught.value.message
    assert 'error="invalid_token"' in caught.value.challenge()


def test_bearer_header_forms() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer abc") == "abc"
    with pytest.raises(BearerChallenge) as missing:
        bearer_token(None)
    assert missing.value.challenge() == 'Bearer realm="polyfhir"'
    with pytest.raises(BearerChallenge):
        bearer_token("Basic dXNlcg==")


def test_caller_tenant_is_the_claim_and_the_header_cannot_change_it() -> None:
    settings = GatewaySettings(auth="jwks")
    claims = {"tenant": "acme", "scope": "patient/*.rs", "patient": "p1", "client_id": "app"}
    caller = caller_from_claims(claims, settings, header_tenant=None)
    assert str(caller.tenant) == "acme"
    assert caller.client_id == "app"
    assert caller.permissions.confinement(Operation.READ, "Observation") == "Patient/p1"
    assert not caller.admin
    assert caller_from_claims(claims, settings, header_tenant="acme").tenant == caller.tenant
    for other in ("globex", "acme/research"):
        with pytest.raises(Forbidden):
            caller_from_claims(claims, settings, header_tenant=other)
    custom = GatewaySettings(auth="jwks", auth_tenant_claim="org", auth_admin_scope="ops")
    admin = caller_from_claims({"org": "acme", "scp": ["ops"]}, custom, None)
    assert admin.admin
    with pytest.raises(BearerChallenge):
        caller_from_claims({"scope": "user/*.rs"}, settings, None)


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/fhir/Patient/1", "", ("read", "Patient", "1")),
        ("GET", "/fhir/Patient/1/_history/2", "", ("vread", "Patient", "1")),
        ("GET", "/fhir/Patient/1/_history", "", ("history-instance", "Patient", "1")),
        ("GET", "/fhir/Patient", "name=x", ("search-type", "Patient", None)),
        ("POST", "/fhir/Patient/_search", "", ("search-type", "Patient", None)),
        ("POST", "/fhir/Patient", "", ("create", "Patient", None)),
        ("DELETE", "/fhir/Patient", "identifier=x", ("conditional-delete", "Patient", None)),
        ("PATCH", "/fhir/Patient/1", "", ("patch", "Patient", "1")),
        ("GET", "/fhir/Patient/1/Observation", "", ("search-compartment", "Observation", None)),
        ("POST", "/fhir", "", ("transaction/batch", None, None)),
        ("GET", "/fhir/metadata", "", ("capabilities", None, None)),
        ("POST", "/admin/reindex", "", ("admin", None, None)),
    ],
)
def test_audit_names_the_interaction(
    method: str, path: str, query: str, expected: tuple[str, str | None, str | None]
) -> None:
    assert interaction_of(method, path, query) == expected


def _jwks_of(*kids: str) -> dict[str, Any]:
    jwk = ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": kid, "alg": "ES256"} for kid in kids]}


async def test_remote_keys_are_cached_and_refetched_for_an_unknown_kid() -> None:
    published = ["k1"]
    fetches: list[str] = []

    def issuer(request: httpx.Request) -> httpx.Response:
        fetches.append(str(request.url))
        return httpx.Response(200, json=_jwks_of(*published))

    keys = RemoteKeys(
        "https://issuer.example/jwks", cooldown_seconds=3600, transport=httpx.MockTransport(issuer)
    )
    assert (await keys.key_for("k1")).key_id == "k1"
    assert (await keys.key_for("k1")).key_id == "k1"
    assert len(fetches) == 1  # cached
    published.append("k2")  # rotation: the issuer publishes a new key
    assert (await keys.key_for("k2")).key_id == "k2"
    assert len(fetches) == 2  # one refetch for the unknown kid
    with pytest.raises(KeyNotFound):
        await keys.key_for("forged")
    with pytest.raises(KeyNotFound):
        await keys.key_for("forged-again")
    assert len(fetches) == 2  # within the cooldown, unknown kids force no more fetches


async def test_an_unreachable_issuer_is_a_401_not_a_500() -> None:
    def down(_: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    keys = RemoteKeys("https://issuer.example/jwks", transport=httpx.MockTransport(down))
    verifier = TokenVerifier(keys, ISS, AUD, ("ES256",))
    with pytest.raises(BearerChallenge):
        await verifier.verify(_token())


async def test_jwks_mode_from_a_file_and_its_required_settings(tmp_path: Path) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_bytes(orjson.dumps(_jwks()))
    settings = GatewaySettings(
        auth="jwks", auth_issuer=ISS, auth_audience=AUD, auth_jwks_file=str(jwks_file)
    )
    verifier = build_verifier(settings)
    assert verifier is not None
    assert (await verifier.verify(_token()))["sub"] == "u1"
    assert build_verifier(GatewaySettings(auth="off")) is None
    for missing in ({"auth_issuer": None}, {"auth_audience": None}, {"auth_jwks_file": None}):
        with pytest.raises(SecurityConfigurationError):
            build_verifier(settings.model_copy(update=missing))


def test_dev_issuer_keeps_its_key(tmp_path: Path) -> None:
    first = DevIssuer(tmp_path / "dev")
    again = DevIssuer(tmp_path / "dev")
    assert first.kid == again.kid
    assert (tmp_path / "dev" / "issuer-key.pem").stat().st_mode & 0o777 == 0o600
    token = first.mint(tenant="acme", scope="system/*.rs", patient="p1", expires_in=-5)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["patient"] == "p1"
    assert claims["exp"] < time.time()
