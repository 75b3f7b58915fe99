"""``polyfhir``: run the server, and the operator's commands.

``polyfhir run`` is the one-process topology (``run_command``), ``polyfhir
stack`` the whole local stack (``stack_command``). This package is the
composition root: the only place that imports more than one service. A
command's heavy imports happen in its branch, so ``migrate`` or ``token`` start
without loading the gateway's application.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from polyfhir import bulk_cli, terminology_cli
from polyfhir_gateway.entrypoints.token import add_token_arguments, mint_token
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_primary.entrypoints.migrate import add_migrate_arguments, migrate, report
from polyfhir_primary.settings import PrimarySettings
from polyfhir_servicekit.logs import configure_logging
from polyfhir_servicekit.startup import check_port, guarded


def reindex(
    base: str, tenant: str | None, types: list[str], *, wait: bool = True, token: str | None = None
) -> int:
    """Start a reindex through the admin API and report progress until it ends."""
    headers = {"X-Tenant-ID": tenant} if tenant else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(base_url=base.rstrip("/"), headers=headers, timeout=30.0) as client:
        started = client.post("/admin/reindex", json={"resourceTypes": types or None})
        if started.status_code != 202:
            print(f"reindex refused ({started.status_code}): {started.text}")
            return 1
        job = started.json()
        print(f"reindex {job['id']}: {job['total']} resources")
        try:
            while wait and job["state"] == "running":
                time.sleep(0.5)  # polling an HTTP API for progress, not waiting out a race
                job = client.get(f"/admin/reindex/{job['id']}").json()
                print(f"  {job['done']}/{job['total']}", flush=True)
        except KeyboardInterrupt:
            job = client.delete(f"/admin/reindex/{job['id']}").json()
        print(f"reindex {job['id']}: {job['state']} ({job['done']}/{job['total']})")
        return 0 if job["state"] in ("completed", "running") else 1


def _bulk_target(parser: argparse.ArgumentParser, port: int) -> None:
    """Where a bulk command goes: a running server (``--url``) or a database (``--store``)."""
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", default=f"http://127.0.0.1:{port}/fhir", help="FHIR base")
    target.add_argument(
        "--store",
        default=None,
        metavar="DSN",
        help="run the job here, directly on this primary database (sqlite:///file.db,"
        " postgresql://...), no server",
    )
    parser.add_argument("--tenant", default=None, help="X-Tenant-ID (default tenant if absent)")


def _bulk_parsers(sub: Any, port: int) -> None:
    export = sub.add_parser(
        "export", help="$export a tenant into a folder (progress; Ctrl-C cancels)"
    )
    _bulk_target(export, port)
    export.add_argument("--type", dest="types", default=None, help="_type (comma-separated)")
    export.add_argument("--since", default=None, help="_since (an instant)")
    export.add_argument("--group", default=None, help="export Group/<id> (its members)")
    export.add_argument("--patients", action="store_true", help="Patient-level export")
    export.add_argument("--out", default="export", help="folder for the NDJSON files")
    load = sub.add_parser("import", help="$import NDJSON files, folders or URLs (progress)")
    load.add_argument("sources", nargs="+", metavar="FILE|DIR|URL")
    _bulk_target(load, port)
    load.add_argument(
        "--type", default=None, help="resource type (default: each file's first line)"
    )
    load.add_argument(
        "--errors", default="import-errors", help="with --store: folder for the error files"
    )


def _run_bulk(args: argparse.Namespace, default_tenant: str) -> int:
    """``export`` / ``import`` through the server's API, or (``--store``) in this process."""
    from polyfhir import bulk_direct

    request = f"polyfhir {args.command} --store"
    tenant = args.tenant or default_tenant
    if args.command == "export":
        options = bulk_direct.ExportOptions(args.types, args.since, args.group, args.patients)
        if args.store:
            return bulk_direct.export(args.store, tenant, options, Path(args.out), request)
        params = dict(options.pairs())
        path = f"/Group/{args.group}/$export" if args.group else "/$export"
        path = "/Patient/$export" if args.patients else path
        return bulk_cli.export(args.url, args.tenant, path, params, Path(args.out))
    inputs = bulk_cli.import_inputs(args.sources, args.type)
    if args.store:
        return bulk_direct.import_(args.store, tenant, inputs, Path(args.errors), request)
    return bulk_cli.import_(args.url, args.tenant, inputs)


@guarded
def main(argv: list[str] | None = None) -> None:
    settings = GatewaySettings()
    parser = argparse.ArgumentParser(
        prog="polyfhir", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the FHIR API in one process (gateway + primary store)")
    run.add_argument("--host", default=settings.host)
    run.add_argument("--port", type=int, default=settings.port)
    run.add_argument(
        "--config",
        default=None,
        help="composite config file (default: $POLYFHIR_CONFIG_FILE; unset: primary only)",
    )
    again = sub.add_parser(
        "reindex", help="rebuild a tenant's search index (progress; Ctrl-C cancels)"
    )
    again.add_argument("--url", default=f"http://127.0.0.1:{settings.port}")
    again.add_argument("--tenant", default=None, help="X-Tenant-ID (default tenant if absent)")
    again.add_argument("--type", action="append", default=[], dest="types")
    again.add_argument("--token", default=None, help="bearer token with the admin scope")
    token = sub.add_parser(
        "token", help="print a development token (for a server run with POLYFHIR_AUTH=dev)"
    )
    add_token_arguments(token)
    _outbox_commands(sub)
    add_migrate_arguments(
        sub.add_parser(
            "migrate",
            help="apply the primary's schema migrations to $POLYFHIR_PRIMARY_URL and exit",
        )
    )
    stack = sub.add_parser(
        "stack", help="run the whole local polyglot stack (engines + every service); Ctrl-C stops"
    )
    stack.add_argument("--port", type=int, default=settings.port, help="gateway port")
    stack.add_argument("--data", default=None, help="keep the primary here (default: temporary)")
    primary = stack.add_mutually_exclusive_group()
    primary.add_argument("--primary-url", default=None, help="postgresql://... instead of SQLite")
    primary.add_argument(
        "--postgres",
        action="store_true",
        help="run an embedded PostgreSQL (supervised like every child) for the primary",
    )
    stack.add_argument(
        "--sync", choices=["asynchronous", "synchronous", "hybrid"], default="hybrid"
    )
    _bulk_parsers(sub, settings.port)
    terminology_cli.add_parser(sub, settings.port)
    args = parser.parse_args(argv)
    if args.command == "token":
        print(mint_token(settings, args.tenant, args.scope, args.patient, args.expires_in))
        return
    configure_logging(settings.log_level)
    if args.command == "run":
        from polyfhir.run_command import serve  # the gateway's application: this command only

        serve(settings, args.host, check_port(args.port), args.config)
    elif args.command == "stack":
        from polyfhir.stack_command import run_stack

        raise SystemExit(
            run_stack(
                check_port(args.port),
                args.data,
                args.primary_url,
                args.sync,
                postgres=args.postgres,
            )
        )
    elif args.command == "reindex":
        raise SystemExit(reindex(args.url, args.tenant, args.types, token=args.token))
    elif args.command in ("export", "import"):
        raise SystemExit(_run_bulk(args, settings.default_tenant))
    elif args.command == "migrate":
        todo = asyncio.run(migrate(PrimarySettings(), dry_run=args.dry_run))
        report(todo, dry_run=args.dry_run)
    elif args.command == "outbox":
        raise SystemExit(asyncio.run(_run_outbox(args)))
    elif args.command == "terminology":
        raise SystemExit(terminology_cli.run(args))


def _outbox_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outbox = sub.add_parser(
        "outbox", help="dead-lettered outbox rows of $POLYFHIR_PRIMARY_URL: list, retry"
    )
    actions = outbox.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("dead-letters", help="list them, oldest first, with the reason")
    listing.add_argument("--limit", type=int, default=1000)
    retry = actions.add_parser("retry", help="make them pending again (the relay sends them)")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--seq", type=int, action="append", dest="seqs", help="a row's seq")
    which.add_argument("--all", action="store_true", help="every dead-lettered row")


async def _run_outbox(args: argparse.Namespace) -> int:
    from polyfhir.outbox import list_dead_letters, retry_dead_letters

    if args.action == "dead-letters":
        return await list_dead_letters(args.limit)
    return await retry_dead_letters(None if args.all else args.seqs)


if __name__ == "__main__":
    main()
