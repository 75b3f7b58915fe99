"""The development issuer (``POLYFHIR_AUTH=dev``): an ES256 key kept in the data
directory, so ``polyfhir token`` and ``polyfhir run`` in the same checkout agree.

Not an authorization server: it mints whatever it is asked for. Production
uses ``POLYFHIR_AUTH=jwks`` and a real issuer (docs/security.md).
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

DEV_ISSUER = "urn:polyfhir:dev-issuer"
DEV_AUDIENCE = "polyfhir"
_KEY_FILE = "issuer-key.pem"


class DevIssuer:
    def __init__(self, directory: str | Path, audience: str | None = None) -> None:
        self.directory = Path(directory)
        self.audience = audience or DEV_AUDIENCE
        self._key = self._load_or_create()
        public = ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        # RFC 7638 thumbprint members of an EC key, in lexicographic order
        members = {k: public[k] for k in ("crv", "kty", "x", "y")}
        self.kid = hashlib.sha256(orjson.dumps(members)).hexdigest()[:16]
        self._public_jwk: dict[str, Any] = {**public, "kid": self.kid, "alg": "ES256", "use": "sig"}

    def _load_or_create(self) -> ec.EllipticCurvePrivateKey:
        path = self.directory / _KEY_FILE
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise TypeError(f"{path} is not an EC private key")
            return key
        self.directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._public_jwk]}

    def mint(
        self,
        *,
        tenant: str,
        scope: str,
        patient: str | None = None,
        expires_in: int = 3600,
        subject: str = "dev-user",
        client_id: str = "polyfhir-cli",
        tenant_claim: str = "tenant",
    ) -> str:
        """A signed token; a negative ``expires_in`` gives an already expired one."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": DEV_ISSUER,
            "aud": self.audience,
            "sub": subject,
            "client_id": client_id,
            "scope": scope,
            tenant_claim: tenant,
            "iat": min(now, now + expires_in),
            "exp": now + expires_in,
            "jti": str(uuid.uuid4()),
        }
        if patient:
            claims["patient"] = patient
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})
