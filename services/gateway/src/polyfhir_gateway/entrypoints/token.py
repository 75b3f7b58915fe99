"""Print a development token that a gateway run with ``POLYFHIR_AUTH=dev`` and the
same ``POLYFHIR_AUTH_DEV_DIR`` accepts: ``polyfhir token`` in a checkout,
``python -m polyfhir_gateway.entrypoints.token`` in the gateway's image."""

from __future__ import annotations

import argparse

from polyfhir_gateway.security.dev_issuer import DevIssuer
from polyfhir_gateway.settings import GatewaySettings


def mint_token(
    settings: GatewaySettings, tenant: str, scope: str, patient: str | None, expires_in: int
) -> str:
    issuer = DevIssuer(settings.auth_dev_dir, settings.auth_audience)
    return issuer.mint(
        tenant=tenant,
        scope=scope,
        patient=patient,
        expires_in=expires_in,
        tenant_claim=settings.auth_tenant_claim,
    )


def add_token_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--scope", required=True, help='e.g. "system/*.cruds system/admin"')
    parser.add_argument("--patient", default=None, help="patient context for patient/ scopes")
    parser.add_argument(
        "--expires-in", type=int, default=3600, help="seconds (negative: already expired)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m polyfhir_gateway.entrypoints.token", description=__doc__
    )
    add_token_arguments(parser)
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    print(mint_token(settings, args.tenant, args.scope, args.patient, args.expires_in))


if __name__ == "__main__":
    main()
