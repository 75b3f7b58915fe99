"""``polyfhir-gateway``: the gateway as its own service, talking to primary-store over HTTP."""

from __future__ import annotations

from polyfhir_gateway.bootstrap import build_remote_app
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_servicekit.serve import run_service, serve_app
from polyfhir_servicekit.startup import guarded


@guarded
def main(argv: list[str] | None = None) -> None:
    settings = GatewaySettings()
    run_service(
        "polyfhir-gateway",
        settings,
        lambda host, port: serve_app(
            build_remote_app(settings), host, port, settings.admin_ports(port)
        ),
        argv,
        workers=settings.workers,
        extra_ports=settings.admin_ports,
    )


if __name__ == "__main__":
    main()
