"""Bulk export and import throughput, and the RSS an export needs, per engine and size.

    uv run python benchmarks/bulk.py --backends sqlite,postgresql --resources 100000

Loads ``--resources`` resources (a Patient per 10 Observations) into a fresh database
through ``StoreService.process`` (transactions of 500: the write path with index rows
and outbox), then, in this process, with the gateway's own job code and the store
service in-process (the one-process topology):

- export: a system ``$export`` job into a local folder: resources/s and the peak RSS
  *growth* during the export (sampled every 50 ms from /proc/self/statm);
- import: the exported files imported into another tenant: resources/s (index rows
  and outbox written, as ordinary writes) and the peak RSS growth while it runs;
- yardstick (PostgreSQL): a raw ``COPY`` of the same rows (id, JSON) into a table
  without indexes, resources/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from _common import database_urls, table
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.bulk.export_job import EXPORT
from polyfhir_gateway.bulk.export_request import ExportLevel, read_export_request
from polyfhir_gateway.bulk.import_job import IMPORT
from polyfhir_gateway.bulk.import_request import ImportInput, ImportRequest
from polyfhir_gateway.bulk.job_kinds import bulk_kinds
from polyfhir_gateway.bulk.storage import LocalStorage
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_primary.bootstrap import open_database
from polyfhir_primary.service_layer.store_service import StoreService
from polyfhir_primary.settings import PrimarySettings
from polyfhir_servicekit.jobs import JobRunner

PAGE = 500
UCUM = "http://unitsofmeasure.org"
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def synthetic(n: int) -> dict[str, Any]:
    if n % 11 == 0:
        return {"resourceType": "Patient", "id": f"p{n}", "gender": "female"}
    return {
        "resourceType": "Observation",
        "id": f"o{n}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": f"{n % 50}-1"}]},
        "subject": {"reference": f"Patient/p{n - n % 11}"},
        "valueQuantity": {"value": n % 200, "unit": "mg", "system": UCUM, "code": "mg"},
    }


async def load(store: StoreService, ctx: TenantContext, count: int) -> None:
    """``count`` resources in transactions of ``PAGE``, generated as they go."""
    for start in range(0, count, PAGE):
        entries = [
            EntryRequest(Method.PUT, f"{r['resourceType']}/{r['id']}", r)
            for r in map(synthetic, range(start, min(start + PAGE, count)))
        ]
        await store.process(ctx, BundleKind.TRANSACTION, entries)


def rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE_BYTES


async def peak_rss(stop: asyncio.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss())
        await asyncio.sleep(0.05)  # a sampling period, not a wait for a condition


async def run_job(runner: JobRunner, ctx: TenantContext, kind: str, params: Any) -> Any:
    job = await runner.submit(ctx, kind, params)
    done = await runner.wait(ctx, job.id)
    assert done.state.value == "completed", done.error
    return done


async def measure(url: str, count: int, workdir: Path, imports: bool = True) -> dict[str, Any]:
    db = await open_database(PrimarySettings(primary_url=url))
    store = StoreService(db, extract_index_values, _registry())
    source, target = TenantContext.of("bench-source"), TenantContext.of("bench-import")
    started = time.perf_counter()
    await load(store, source, count)
    loaded = time.perf_counter() - started
    settings = GatewaySettings(bulk_output_dir=str(workdir / "out"), bulk_import_dir=str(workdir))
    storage = LocalStorage(workdir / "out")
    runner = JobRunner(store, bulk_kinds(store, storage, settings))
    export = read_export_request([], ExportLevel.SYSTEM, request="bench", now=_now(), strict=True)
    stop, peak = asyncio.Event(), [rss()]
    base = peak[0]
    sampler = asyncio.create_task(peak_rss(stop, peak))
    started = time.perf_counter()
    job = await run_job(runner, source, EXPORT, export.params())
    exported = time.perf_counter() - started
    stop.set()
    await sampler
    files = job.checkpoint["output"]
    inputs = [
        ImportInput(f["type"], (workdir / "out" / job.id / f["name"]).as_uri()) for f in files
    ]
    imported, import_peak = None, [rss()]
    if imports:
        request = ImportRequest("bench", _now(), inputs)
        base_import, stop = import_peak[0], asyncio.Event()
        sampler = asyncio.create_task(peak_rss(stop, import_peak))
        started = time.perf_counter()
        await run_job(runner, target, IMPORT, request.params())
        imported = time.perf_counter() - started
        stop.set()
        await sampler
        import_peak[0] -= base_import
    await runner.close()
    await db.close()
    copy_rate = await raw_copy(url, workdir, files, job.id) if url.startswith("postgres") else None
    return {
        "load/s": count / loaded,
        "export/s": job.done / exported,
        "rss_growth_mib": (peak[0] - base) / 2**20,
        "import/s": count / imported if imported else None,
        "import_rss_mib": import_peak[0] / 2**20 if imported else None,
        "copy/s": copy_rate,
    }


async def raw_copy(url: str, workdir: Path, files: list[Any], job_id: str) -> float:
    """The yardstick: the same rows COPYed into a table without indexes."""
    rows = [
        (str(n), line)
        for f in files
        for n, line in enumerate((workdir / "out" / job_id / f["name"]).read_bytes().splitlines())
    ]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TEMP TABLE raw_copy (id text, content bytea)")
        started = time.perf_counter()
        await conn.copy_records_to_table("raw_copy", records=rows)
        return len(rows) / (time.perf_counter() - started)
    finally:
        await conn.close()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _registry() -> Any:
    from polyfhir_core.registry import SearchParameterRegistry

    return SearchParameterRegistry.default()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--no-import", action="store_true", help="measure the export only")
    args = parser.parse_args()
    backends = args.backends.split(",")
    rows = []
    with database_urls(backends) as urls:
        for backend, url in urls.items():
            with tempfile.TemporaryDirectory(prefix="polyfhir-bulk-") as tmp:
                result = asyncio.run(
                    measure(url, args.resources, Path(tmp), imports=not args.no_import)
                )
            copy, imported = result["copy/s"], result["import/s"]
            ratio = f"1 : {copy / imported:,.0f}" if copy and imported else "—"
            rows.append([
                backend, args.resources, result["load/s"], result["export/s"],
                result["rss_growth_mib"], imported or "—",
                "—" if result["import_rss_mib"] is None else result["import_rss_mib"],
                "—" if copy is None else copy, ratio,
            ])  # fmt: skip
    print(table(
        ["engine", "resources", "load/s (write path)", "export/s", "export RSS growth MiB",
         "import/s", "import RSS growth MiB", "raw COPY/s (yardstick)", "import : COPY"],
        rows,
    ))  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
