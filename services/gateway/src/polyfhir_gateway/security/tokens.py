"""Bearer token verification (PyJWT): signature against the issuer's keys, then
``iss``, ``aud``, ``exp``/``nbf`` with a small leeway. Every failure is a 401
whose ``WWW-Authenticate`` says why, and nothing about the data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.exceptions import InvalidTokenError

from polyfhir_core.errors import Unauthorized
from polyfhir_gateway.security.keys import KeyNotFound, KeySource

REALM = "polyfhir"


@dataclass(eq=False)
class BearerChallenge(Unauthorized):
    """401 with ``WWW-Authenticate: Bearer ...`` (RFC 6750 §3)."""

    error: str | None = None  # None: no credentials were sent at all
    scope: str | None = None

    def challenge(self) -> str:
        parts = [f'realm="{REALM}"']
        if self.error:
            description = self.message.replace('"', "'")
            parts += [f'error="{self.error}"', f'error_description="{description}"']
        return "Bearer " + ", ".join(parts)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or a 401."""
    if not authorization:
        raise BearerChallenge("a bearer token is required")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise BearerChallenge(
            "the Authorization header is not a bearer token", error="invalid_request"
        )
    return token


def _invalid(reason: str) -> BearerChallenge:
    return BearerChallenge(reason, error="invalid_token")


@dataclass(frozen=True, slots=True)
class TokenVerifier:
    keys: KeySource
    issuer: str | None
    audience: str | None
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway_seconds: int = 30
    required: tuple[str, ...] = field(default=("exp",))

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims once signature, issuer, audience and lifetime hold."""
        try:
            header = jwt.get_unverified_header(token)
        except InvalidTokenError as exc:
            raise _invalid("the token is malformed") from exc
        if header.get("alg") not in self.algorithms:
            raise _invalid("the token's algorithm is not accepted")
        kid = header.get("kid")
        try:
            key = await self.keys.key_for(kid if isinstance(kid, str) else None)
        except KeyNotFound as exc:
            raise BearerChallenge(
                "the token's signing key is unknown", error="invalid_token"
            ) from exc
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={
                    "require": list(self.required),
                    "verify_aud": self.audience is not None,
                    "verify_iss": self.issuer is not None,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise _invalid("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise BearerChallenge(
                "the token is for another audience", error="invalid_token"
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise BearerChallenge(
                "the token is from another issuer", error="invalid_token"
            ) from exc
        except InvalidTokenError as exc:
            raise _invalid(f"the token is not valid: {exc}") from exc
        return claims
