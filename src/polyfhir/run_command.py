"""``polyfhir run`` (``make run``): the one-process topology.

The gateway with the primary store in-process (SQLite file under ./data by
default, or PostgreSQL when ``POLYFHIR_PRIMARY_URL=postgresql://...``), and the
terminology index embedded. Imported only for this command: the other commands
of the CLI (``migrate``, ``token``, ``export``, ...) start without loading the
gateway's application.
"""

from __future__ import annotations

from polyfhir.embedded import embed_terminology
from polyfhir_gateway.app import create_app
from polyfhir_gateway.bootstrap import build_pipeline
from polyfhir_gateway.security.bootstrap import announce_auth
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_primary.bootstrap import bootstrap
from polyfhir_primary.entrypoints.serve import migrate_once
from polyfhir_primary.settings import PrimarySettings
from polyfhir_servicekit.contract_client import ServiceClients
from polyfhir_servicekit.serve import serve_app, serve_in_processes


async def run_standalone(host: str, port: int, config_file: str | None = None) -> None:
    settings = GatewaySettings()
    announce_auth(settings)  # the first log line: is the API open?
    primary_settings = PrimarySettings()
    if config_file is not None:  # one composite config for the gateway and the relay
        settings = settings.model_copy(update={"config_file": config_file})
        primary_settings = primary_settings.model_copy(update={"config_file": config_file})
    primary = await bootstrap(primary_settings)
    clients = ServiceClients()  # the secondaries' services, if the config names any
    pipeline = build_pipeline(primary.service, settings, clients)
    terminology = await embed_terminology(pipeline, primary.service, primary_settings.primary_url)
    app = create_app(primary.service, settings, pipeline=pipeline)
    try:
        await serve_app(app, host, port, settings.admin_ports(port))
    finally:
        await clients.close()
        if terminology is not None:
            await terminology.close()
        await primary.close()


def serve(settings: GatewaySettings, host: str, port: int, config_file: str | None) -> None:
    """Serve until stopped, in ``settings.workers`` processes sharing the port(s)."""
    primary_settings = PrimarySettings()
    serve_in_processes(
        lambda: run_standalone(host, port, config_file),
        workers=settings.workers,
        host=host,
        ports=(port, *settings.admin_ports(port)),
        before_fork=lambda: migrate_once(primary_settings),
    )
