"""Where the issuer's public keys come from: a JWKS document, a file or a URL.

A URL is fetched without blocking the event loop (httpx), cached for
``cache_seconds``, and fetched again at once when a token names a ``kid`` the
cache does not know (key rotation); a token naming an unknown ``kid`` can force
that refresh at most once per ``cooldown_seconds``, so forged tokens cannot
turn the gateway into a load generator against the issuer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

log = logging.getLogger(__name__)


class KeyNotFound(Exception):
    """No key of the issuer matches the token."""


class KeySource(Protocol):
    async def key_for(self, kid: str | None) -> PyJWK: ...


def _pick(keys: PyJWKSet, kid: str | None) -> PyJWK | None:
    if kid is None:
        return keys.keys[0] if len(keys.keys) == 1 else None
    return next((k for k in keys.keys if k.key_id == kid), None)


def parse_jwks(document: Any) -> PyJWKSet:
    try:
        return PyJWKSet.from_dict(document)
    except (PyJWKError, PyJWKSetError, KeyError, TypeError) as exc:
        raise KeyNotFound(f"the issuer's JWKS is not usable: {exc}") from exc


class StaticKeys:
    """A fixed JWKS: the development issuer's, or one read from a file at start."""

    def __init__(self, document: Any) -> None:
        self.keys = parse_jwks(document)

    @classmethod
    def from_file(cls, path: str) -> StaticKeys:
        return cls(orjson.loads(Path(path).read_bytes()))

    async def key_for(self, kid: str | None) -> PyJWK:
        key = _pick(self.keys, kid)
        if key is None:
            raise KeyNotFound(f"no key {kid!r} in the issuer's JWKS")
        return key


class RemoteKeys:
    """The issuer's JWKS URL, cached and refreshed on an unknown ``kid``."""

    def __init__(
        self,
        url: str,
        cache_seconds: float = 300,
        cooldown_seconds: float = 10,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.transport = transport  # tests hand in httpx.MockTransport
        self.cache_seconds = cache_seconds
        self.cooldown_seconds = cooldown_seconds
        self._keys: PyJWKSet | None = None
        self._fetched = 0.0
        self._forced = float("-inf")
        self._lock = asyncio.Lock()

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=10.0, transport=self.transport) as client:
                response = await client.get(self.url)
                response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("JWKS fetch failed", extra={"url": self.url, "error": str(exc)})
            raise KeyNotFound(f"the issuer's JWKS could not be fetched: {exc}") from exc
        self._keys = parse_jwks(response.json())
        self._fetched = time.monotonic()

    async def key_for(self, kid: str | None) -> PyJWK:
        async with self._lock:
            now = time.monotonic()
            if self._keys is None or now - self._fetched > self.cache_seconds:
                await self._fetch()
            assert self._keys is not None
            key = _pick(self._keys, kid)
            if key is None and now - self._forced >= self.cooldown_seconds:
                self._forced = now
                await self._fetch()
                key = _pick(self._keys, kid)
        if key is None:
            raise KeyNotFound(f"no key {kid!r} in the issuer's JWKS")
        return key
