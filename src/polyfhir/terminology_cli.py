"""``polyfhir terminology load FILE|DIR|hl7|icd10cm ... --tenant T`` against a running server.

Reads every source first (an unreadable one stops before anything is sent: exit 2),
then loads the CodeSystems, ValueSets and ConceptMaps through the FHIR API
(:mod:`polyfhir.terminology.loader`) with a progress bar, and prints a summary:
created / updated / unchanged / failed (each failure with its OperationOutcome).
Exit 0 when every resource was taken, 1 when any failed or the server could not be
reached, 2 for bad input.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import httpx
from tqdm import tqdm

from polyfhir.terminology.loader import (
    MAX_BYTES,
    MAX_ENTRIES,
    LoadSummary,
    TerminologyLoader,
)
from polyfhir.terminology.sources import InputError, Inputs, read_sources

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], port: int) -> None:
    terminology = sub.add_parser(
        "terminology", help="load code systems, value sets and concept maps (progress, summary)"
    )
    actions = terminology.add_subparsers(dest="action", required=True)
    load = actions.add_parser(
        "load",
        help="load FILE|DIR (Bundle, NDJSON, JSON; .gz too), hl7 (the shipped HL7 R4 "
        "definitions) or icd10cm (ICD-10-CM from the installed package)",
    )
    load.add_argument("sources", nargs="+", metavar="FILE|DIR|hl7|icd10cm")
    load.add_argument("--tenant", default=None, help="X-Tenant-ID (default tenant if absent)")
    load.add_argument(
        "--base-url", "--url", dest="url", default=f"http://127.0.0.1:{port}/fhir", help="FHIR base"
    )
    load.add_argument("--token", default=None, help="bearer token (a server with tokens on)")
    load.add_argument(
        "--batch-entries", type=int, default=MAX_ENTRIES, help="resources per batch Bundle"
    )
    load.add_argument(
        "--batch-bytes", type=int, default=MAX_BYTES, help="JSON bytes per batch Bundle"
    )
    load.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for one batch")


def _client(url: str, tenant: str | None, token: str | None, timeout: float) -> httpx.AsyncClient:
    headers = {"accept": "application/fhir+json"}
    if tenant:
        headers["X-Tenant-ID"] = tenant
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=timeout)


async def _load(args: argparse.Namespace, inputs: Inputs) -> LoadSummary:
    with tqdm(total=len(inputs.resources), desc="load", unit=" resources") as bar:
        async with _client(args.url, args.tenant, args.token, args.timeout) as client:
            loader = TerminologyLoader(
                client,
                max_entries=max(1, args.batch_entries),
                max_bytes=max(1, args.batch_bytes),
                progress=bar.update,
            )
            loader.summary.skipped = inputs.skipped
            return await loader.load(inputs.resources)


def report(summary: LoadSummary) -> int:
    print(summary.line())
    for failure in summary.failed:
        print(f"  failed {failure.what}: {failure.status}: {failure.diagnostics}")
    return EXIT_FAILED if summary.failed else 0


def run(args: Any) -> int:
    try:
        inputs = read_sources(args.sources)
    except InputError as exc:
        print(f"bad input: {exc}")
        return EXIT_BAD_INPUT
    try:
        summary = asyncio.run(_load(args, inputs))
    except httpx.HTTPError as exc:
        print(f"cannot load through {args.url}: {exc!r}")
        return EXIT_FAILED
    return report(summary)
