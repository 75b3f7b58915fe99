"""Behind a reverse proxy: trust ``X-Forwarded-*`` only from the proxies' addresses.

A TLS-terminating proxy calls the gateway over plain HTTP, so links built from the
request (``Location``, ``fullUrl``, paging links) would say ``http://`` and the
internal host. Two remedies (docs/deployment.md, "Behind a proxy"):

- ``POLYFHIR_BASE_URL``: the public base, fixed (the chart sets it from the Ingress);
  it wins over everything here;
- ``POLYFHIR_FORWARDED_ALLOW_IPS``: addresses or networks of the proxies (or ``*``).
  From those peers only, ``X-Forwarded-Proto`` and ``X-Forwarded-For`` (uvicorn's
  :class:`ProxyHeadersMiddleware`), ``X-Forwarded-Host`` (the Host header) and
  ``X-Forwarded-Prefix`` (the ASGI ``root_path``, so the base becomes
  ``https://host/prefix/fhir``) are applied. Anyone else's are ignored: a client
  cannot make the server hand out links to another host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

if TYPE_CHECKING:
    from uvicorn._types import ASGI3Application

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(value: str) -> tuple[bool, tuple[Network, ...]]:
    """``"10.0.0.0/8, 127.0.0.1"`` -> networks; ``"*"`` -> everyone."""
    entries = [e.strip() for e in value.split(",") if e.strip()]
    if "*" in entries:
        return True, ()
    return False, tuple(ipaddress.ip_network(e, strict=False) for e in entries)


class ForwardedHeadersMiddleware:
    def __init__(self, app: ASGIApp, trusted: str) -> None:
        self._everyone, self._networks = parse_trusted(trusted)
        uvicorn_trusted: str | list[str] = (
            "*" if self._everyone else [str(n) for n in self._networks]
        )
        # proto and for: uvicorn's own implementation, with the same trusted peers (its
        # ASGI types are uvicorn's spelling of the same protocol as Starlette's)
        proxied = ProxyHeadersMiddleware(
            cast("ASGI3Application", app), trusted_hosts=uvicorn_trusted
        )
        self.app = cast("ASGIApp", proxied)

    def _trusts(self, scope: Scope) -> bool:
        client = scope.get("client")
        if self._everyone:
            return True
        if not client:
            return False
        try:
            peer = ipaddress.ip_address(client[0])
        except ValueError:  # a unix socket path
            return False
        return any(peer in network for network in self._networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._trusts(scope):
            scope = _with_forwarded_host_and_prefix(scope)
        await self.app(scope, receive, send)


def _first(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            # a chain of proxies appends: the first value is what the client asked for
            return value.decode("latin-1").split(",")[0].strip() or None
    return None


def _with_forwarded_host_and_prefix(scope: Scope) -> Scope:
    headers: list[tuple[bytes, bytes]] = list(scope["headers"])
    host = _first(headers, b"x-forwarded-host")
    prefix = _first(headers, b"x-forwarded-prefix")
    if host is None and prefix is None:
        return scope
    scope = dict(scope)
    if host is not None:
        headers = [(k, v) for k, v in headers if k != b"host"] + [(b"host", host.encode())]
        scope["headers"] = headers
    if prefix is not None:
        scope["root_path"] = "/" + prefix.strip("/") if prefix.strip("/") else ""
    return scope
