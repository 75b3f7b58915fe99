"""``POLYFHIR_ADMIN_PORT``: ``/admin`` and ``/metrics`` on an internal port only.

The gateway listens on both ports with one server (``serve_app(extra_ports=...)``);
this middleware tells them apart by the local port of the connection
(``scope["server"]``): the public port answers 404 for ``/admin`` and
``/metrics``, the admin port answers nothing but those and the probes. The
admin scope is still required on ``/admin`` (tokens on).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from polyfhir_gateway.api.errors import outcome_response

_INTERNAL = ("/admin", "/metrics")
_PROBES = ("/livez", "/readyz")


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


class AdminPortSplit:
    def __init__(self, app: ASGIApp, admin_port: int) -> None:
        self.app = app
        self.admin_port = admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            server = scope.get("server")
            on_admin_port = server is not None and server[1] == self.admin_port
            path = scope["path"]
            internal = _under(path, _INTERNAL)
            if internal != on_admin_port and not _under(path, _PROBES):
                where = "the internal admin port" if internal else "the public port"
                response = outcome_response(404, "not-found", f"unknown path (served on {where})")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
