"""The prober's side of the tenant-isolation tests: tenants in each relation, a client of
the whole API (FHIR and admin), and the shape of an answer without ids or timestamps."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx

from isolation_probes import Probe

RELATIONS = ("unrelated", "child", "parent")


def tenants(relation: str) -> tuple[str, str]:
    """(data owner, prober) in ``relation``, under a fresh root."""
    root = f"iso{uuid.uuid4().hex[:10]}"
    if relation == "child":
        return root, f"{root}/child"
    if relation == "parent":
        return f"{root}/child", root
    return f"{root}a", f"{root}b"


class ApiServer(Protocol):
    """A running API: ``tests/conftest.py``'s ``Server`` or the token servers' ``SecureServer``."""

    base_url: str
    transport: httpx.AsyncBaseTransport | None


class TokenIssuer(Protocol):
    def token(self, tenant: str | None, scope: str, /) -> str: ...


# A caller of its own tenant with every interaction and the admin routes.
FULL_ACCESS = "system/*.cruds system/admin"


@asynccontextmanager
async def api(server: ApiServer, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the whole API (``/fhir`` and ``/admin``) as a caller of ``tenant``: by
    header with tokens off, by a token for the tenant when the server has an issuer."""
    issuer: TokenIssuer | None = getattr(server, "issuer", None)
    who = (
        {"X-Tenant-ID": tenant}
        if issuer is None
        else {"Authorization": f"Bearer {issuer.token(tenant, FULL_ACCESS)}"}
    )
    async with httpx.AsyncClient(
        base_url=server.base_url,
        transport=server.transport,
        headers={"accept": "application/fhir+json", **who},
        timeout=60.0,
    ) as client:
        yield client


async def send(client: httpx.AsyncClient, probe: Probe) -> httpx.Response:
    url = probe.url if probe.url.startswith("/admin") else "/fhir" + probe.url.rstrip("/")
    return await client.request(
        probe.method,
        url,
        params=list(probe.params),
        content=probe.body,
        headers=dict(probe.headers),
    )


def shape(response: httpx.Response) -> tuple[Any, ...]:
    """What an answer tells without its ids and timestamps."""
    try:
        body = response.json()
    except ValueError:
        return (response.status_code,)
    if not isinstance(body, dict):
        return (response.status_code, type(body).__name__)
    kind = body.get("resourceType")
    if kind == "Bundle":
        entries = sorted(
            (
                e.get("resource", {}).get("resourceType", ""),
                e.get("search", {}).get("mode", ""),
                e.get("response", {}).get("status", ""),
            )
            for e in body.get("entry", [])
        )
        return (response.status_code, kind, body.get("type"), body.get("total"), tuple(entries))
    if kind == "OperationOutcome":
        issues = sorted((i.get("severity"), i.get("code")) for i in body.get("issue", []))
        return (response.status_code, kind, tuple(issues))
    if kind is None and "jobs" in body:
        return (response.status_code, "jobs", len(body["jobs"]))
    return (response.status_code, kind)
