"""Bulk export and import throughput, and the RSS each adds, per engine and size.

    uv run python benchmarks/bulk.py --backends sqlite,postgresql --resources 100000
    uv run python benchmarks/bulk.py --backends postgresql --resources 1000000 --load import

Everything runs in this process with the gateway's own job code and the store service
in-process (the one-process topology), a tenant of Patients and Observations (1 : 10).
Two ways to get the data in (``--load``):

- ``write-path`` (default): the resources are loaded through ``StoreService.process``
  (transactions of 500: the write path with index rows and outbox), then a system
  ``$export`` job exports them into a local folder, then an ``$import`` job imports the
  exported files into another tenant;
- ``import``: the synthetic resources are streamed to NDJSON files on disk (one resource
  in memory at a time), an ``$import`` job imports them into the tenant, then a system
  ``$export`` job exports that tenant. The same two jobs are measured over the same
  data, with one full load instead of two (at 1M resources a load takes 25-40 min here).

Measured per job: resources/s and the peak RSS *growth* while it runs (sampled every
50 ms from /proc/self/statm; every ``--trace-s`` seconds the job's progress and RSS go to
stderr, so a long run shows whether memory stays flat); and the yardstick on
PostgreSQL: a raw ``COPY`` of the same rows (id, JSON) into a table without indexes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson

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
TYPES = ("Patient", "Observation")  # Patients first: the Observations refer to them


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


def write_ndjson(folder: Path, count: int) -> list[Path]:
    """``count`` synthetic resources as one NDJSON file per type, streamed to disk."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{rtype}.ndjson" for rtype in TYPES]
    with paths[0].open("wb") as patients, paths[1].open("wb") as observations:
        for resource_ in map(synthetic, range(count)):
            out = patients if resource_["resourceType"] == "Patient" else observations
            out.write(orjson.dumps(resource_) + b"\n")
    return paths


def rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE_BYTES


@dataclass
class Measured:
    """A job run to its end: its final state, wall seconds, peak RSS growth in MiB and
    this process's CPU seconds (every thread: SQLite's work included, PostgreSQL's not)."""

    job: Any
    seconds: float
    rss_growth_mib: float
    cpu_s: float

    @property
    def cpu_us(self) -> float:
        """CPU µs of this process per resource: what the shared machine's load leaves out."""
        return self.cpu_s * 1e6 / max(1, int(self.job.done))

    @property
    def rate(self) -> float:
        return float(self.job.done) / self.seconds


async def sample_rss(
    stop: asyncio.Event, peak: list[int], progress: Any, trace_s: float, label: str
) -> None:
    """Peak RSS every 50 ms; every ``trace_s`` the job's progress and RSS to stderr."""
    started = last = time.perf_counter()
    while not stop.is_set():
        peak[0] = max(peak[0], rss())
        await asyncio.sleep(0.05)  # a sampling period, not a wait for a condition
        if trace_s and time.perf_counter() - last >= trace_s:
            last = time.perf_counter()
            done = (await progress()).done
            print(
                f"{label}: {last - started:,.0f} s, {done:,} done, RSS {rss() / 2**20:,.1f} MiB",
                file=sys.stderr,
                flush=True,
            )


async def run_job(
    runner: JobRunner, ctx: TenantContext, kind: str, params: Any, trace_s: float
) -> Measured:
    base = rss()
    peak, stop = [base], asyncio.Event()
    started, cpu = time.perf_counter(), time.process_time()
    job = await runner.submit(ctx, kind, params)

    async def progress() -> Any:
        return await runner.get(ctx, job.id)

    sampler = asyncio.create_task(sample_rss(stop, peak, progress, trace_s, kind))
    done = await runner.wait(ctx, job.id)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    stop.set()
    await sampler
    assert done.state.value == "completed", done.error
    return Measured(done, seconds, (peak[0] - base) / 2**20, cpu)


def exported_paths(workdir: Path, job: Any) -> list[tuple[str, Path]]:
    files = job.checkpoint["output"]
    return [(f["type"], workdir / "out" / job.id / f["name"]) for f in files]


def export_request() -> dict[str, Any]:
    """A system export as of now (made after the data is in: it is a snapshot)."""
    now = _now()
    return read_export_request(
        [], ExportLevel.SYSTEM, request="bench", now=now, strict=True
    ).params()


def import_request(inputs: list[tuple[str, Path]]) -> dict[str, Any]:
    items = [ImportInput(rtype, path.as_uri()) for rtype, path in inputs]
    return ImportRequest("bench", _now(), items).params()


async def measure(
    url: str, count: int, workdir: Path, load_by: str, imports: bool, trace_s: float
) -> dict[str, Any]:
    db = await open_database(PrimarySettings(primary_url=url))
    store = StoreService(db, extract_index_values, _registry())
    source, target = TenantContext.of("bench-source"), TenantContext.of("bench-import")
    settings = GatewaySettings(bulk_output_dir=str(workdir / "out"), bulk_import_dir=str(workdir))
    runner = JobRunner(store, bulk_kinds(store, LocalStorage(workdir / "out"), settings))
    loaded: float | None = None
    imported: Measured | None = None
    if load_by == "import":
        paths = write_ndjson(workdir / "in", count)
        inputs = list(zip(TYPES, paths, strict=True))
        imported = await run_job(runner, source, IMPORT, import_request(inputs), trace_s)
        assert imported.job.done == count, f"imported {imported.job.done} of {count}"
        exported = await run_job(runner, source, EXPORT, export_request(), trace_s)
    else:
        started = time.perf_counter()
        await load(store, source, count)
        loaded = count / (time.perf_counter() - started)
        exported = await run_job(runner, source, EXPORT, export_request(), trace_s)
        inputs = exported_paths(workdir, exported.job)
        if imports:
            imported = await run_job(runner, target, IMPORT, import_request(inputs), trace_s)
    assert exported.job.done == count, f"exported {exported.job.done} of {count}"
    await runner.close()
    await db.close()
    copy_rate = await raw_copy(url, [p for _, p in inputs]) if url.startswith("postgres") else None
    return {
        "load/s": loaded,
        "export/s": exported.rate,
        "rss_growth_mib": exported.rss_growth_mib,
        "export_cpu_us": exported.cpu_us,
        "import_cpu_us": imported.cpu_us if imported else None,
        "import/s": imported.rate if imported else None,
        "import_rss_mib": imported.rss_growth_mib if imported else None,
        "copy/s": copy_rate,
    }


async def raw_copy(url: str, paths: list[Path]) -> float:
    """The yardstick: the same rows COPYed into a table without indexes."""
    rows = [
        (str(n), line) for path in paths for n, line in enumerate(path.read_bytes().splitlines())
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


def _load_average() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def _dash(value: Any) -> Any:
    return "—" if value is None else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument(
        "--load",
        choices=("write-path", "import"),
        default="write-path",
        help="how the data gets in: the write path then export then import into another "
        "tenant, or NDJSON files imported by the $import job then exported",
    )
    parser.add_argument("--no-import", action="store_true", help="write-path: export only")
    parser.add_argument("--trace-s", type=float, default=60.0, help="progress + RSS period")
    args = parser.parse_args()
    backends = args.backends.split(",")
    rows = []
    with database_urls(backends) as urls:
        for backend, url in urls.items():
            before = _load_average()
            with tempfile.TemporaryDirectory(prefix="polyfhir-bulk-") as tmp:
                result = asyncio.run(
                    measure(
                        url, args.resources, Path(tmp), args.load, not args.no_import, args.trace_s
                    )
                )
            copy, imported = result["copy/s"], result["import/s"]
            ratio = f"1 : {copy / imported:,.0f}" if copy and imported else "—"
            rows.append([
                backend, args.resources, args.load, f"{before} → {_load_average()}",
                _dash(result["load/s"]), result["export/s"], result["export_cpu_us"],
                result["rss_growth_mib"], _dash(imported), _dash(result["import_cpu_us"]),
                _dash(result["import_rss_mib"]), _dash(copy), ratio,
            ])  # fmt: skip
    print(table(
        ["engine", "resources", "load", "load average (start → end)", "load/s (write path)",
         "export/s", "export CPU µs/resource", "export RSS growth MiB", "import/s",
         "import CPU µs/resource", "import RSS growth MiB",
         "raw COPY/s (yardstick)", "import : COPY"],
        rows,
    ))  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
