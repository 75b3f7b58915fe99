"""One structured audit line per access (logger ``polyfhir.audit``, JSON through
``polyfhir_servicekit.logs``): who (subject, client id), which tenant, which
interaction on which resource type and ids, and the outcome (the status).
Never the resource's content, the query's values or the token."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polyfhir_core.resources import StoredResource
from polyfhir_gateway.security.caller import Caller

audit_log = logging.getLogger("polyfhir.audit")

_PUBLIC = ("/livez", "/readyz", "/metrics")


def interaction_of(method: str, path: str, query: str) -> tuple[str, str | None, str | None]:
    """(interaction, resource type, id) named by a request line, from its path only."""
    if path.startswith("/admin"):
        return "admin", None, None
    parts = [p for p in path.removeprefix("/fhir").split("/") if p]
    if not parts:
        return {"POST": "transaction/batch", "GET": "search-system"}.get(method, method), None, None
    if parts[0] in ("metadata", ".well-known"):
        return "capabilities", None, None
    if parts[0].startswith("$"):
        return f"operation:{parts[0][1:]}", None, None
    if parts[0] == "_history":
        return "history-system", None, None
    rtype = parts[0]
    rest = parts[1:]
    if not rest or rest == ["_search"]:
        kinds = {"GET": "search-type", "POST": "create", "PUT": "update", "DELETE": "delete"}
        kind = "search-type" if rest else kinds.get(method, method)
        conditional = bool(query) and method in ("PUT", "DELETE")
        return ("conditional-" + kind if conditional else kind), rtype, None
    if rest == ["_history"]:
        return "history-type", rtype, None
    rid = rest[0]
    if len(rest) >= 2 and rest[1] == "_history":
        return ("vread" if len(rest) == 3 else "history-instance"), rtype, rid
    if len(rest) >= 2:
        return "search-compartment", rest[1], None
    kinds = {"GET": "read", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    return kinds.get(method, method), rtype, rid


def note_returned(request: Request, resources: Iterable[StoredResource]) -> None:
    """Name what a search or history page returned in the request's audit line."""
    request.state.audit_returned = [f"{r.resource_type}/{r.id}" for r in resources]


def note_entries(request: Request, locations: Iterable[str | None]) -> None:
    """Name what each entry of a bundle touched (``Type/id``; None for an entry without)."""
    request.state.audit_returned = [
        "/".join(loc.split("/")[:2]) if loc else None for loc in locations
    ]


def audit_record(scope: Scope, status: int) -> dict[str, Any]:
    method, path = scope["method"], scope["path"]
    interaction, rtype, rid = interaction_of(method, path, scope.get("query_string", b"").decode())
    state = scope.get("state", {})
    caller: Caller | None = state.get("caller")
    return {
        "interaction": interaction,
        "method": method,
        "resource_type": rtype,
        "ids": [rid] if rid else [],
        "returned": state.get("audit_returned", []),
        "outcome": status,
        "tenant": str(caller.tenant) if caller else None,
        "subject": caller.subject if caller else None,
        "client_id": caller.client_id if caller else None,
        "request_id": next(
            (v.decode() for k, v in scope.get("headers", ()) if k == b"x-request-id"), None
        ),
    }


class AuditMiddleware:
    """Pure ASGI: logs after the response started, whatever it was (401s too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_PUBLIC):
            await self.app(scope, receive, send)
            return
        status = [500]

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            audit_log.info("access", extra=audit_record(scope, status[0]))
