"""``polyfhir export|import --store DSN``: the bulk jobs in this process, on the database.

No server: the primary database named by the DSN (``sqlite:///file.db`` or
``postgresql://...``, under the tenancy strategy of ``POLYFHIR_TENANCY_STRATEGY``)
is opened here, and the gateway's own ``export`` / ``import`` job code runs against
it through the store service (validation, index rows and outbox rows as every write:
a server's relay publishes the events later, so every secondary indexes them). The
job is recorded in the database like one a server runs; each saved batch or page is
its heartbeat, so a server sharing the database never takes it over. This process
claims no other job. Files: the export's go to ``--out`` with ``manifest.json``
(file URLs); an import's error files (OperationOutcome NDJSON, one line per bad input
line) to ``--errors``. Ctrl-C cancels the job.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import orjson
from tqdm import tqdm

from polyfhir.bulk_cli import import_parameters
from polyfhir_core.errors import FhirError
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.jobs import Job, JobState
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.bulk.export_job import EXPORT, ExportCheckpoint
from polyfhir_gateway.bulk.export_request import ExportLevel, read_export_request
from polyfhir_gateway.bulk.exports import export_manifest, progress
from polyfhir_gateway.bulk.import_job import IMPORT, ImportCheckpoint
from polyfhir_gateway.bulk.import_request import ImportRequest, read_import_request
from polyfhir_gateway.bulk.job_kinds import bulk_kinds
from polyfhir_gateway.bulk.storage import LocalStorage
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_primary.bootstrap import open_database
from polyfhir_primary.service_layer.store_service import StoreService
from polyfhir_primary.settings import PrimarySettings
from polyfhir_servicekit.jobs import JobRunner

POLL_S = 0.5  # how often the progress bar reads the job's record


@dataclass(frozen=True, slots=True)
class ExportOptions:
    types: str | None = None
    since: str | None = None
    group: str | None = None
    patients: bool = False

    def pairs(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in (("_type", self.types), ("_since", self.since)) if v]

    def level(self) -> ExportLevel:
        if self.patients:
            return ExportLevel.PATIENT
        return ExportLevel.GROUP if self.group else ExportLevel.SYSTEM


@dataclass(slots=True)
class DirectJobs:
    """The store service on the database, and a job runner with the bulk kinds."""

    store: StoreService
    runner: JobRunner


@asynccontextmanager
async def _open(dsn: str, workdir: Path, import_dir: str | None) -> AsyncIterator[DirectJobs]:
    database = await open_database(PrimarySettings(primary_url=dsn))
    store = StoreService(database, extract_index_values, SearchParameterRegistry.default())
    settings = GatewaySettings(
        bulk_storage="local", bulk_output_dir=str(workdir), bulk_import_dir=import_dir
    )
    runner = JobRunner(store, bulk_kinds(store, LocalStorage(workdir), settings))
    try:
        yield DirectJobs(store, runner)
    finally:
        await runner.close()
        await database.close()


async def _follow(runner: JobRunner, ctx: TenantContext, job: Job, what: str) -> Job | None:
    """The job once it ended, with a progress bar meanwhile (None: cancelled or failed)."""
    ended = asyncio.ensure_future(runner.wait(ctx, job.id))
    with tqdm(desc=what, unit=" resources") as bar:
        try:
            while not ended.done():
                await asyncio.wait({ended}, timeout=POLL_S)
                seen = ended.result() if ended.done() else await runner.get(ctx, job.id)
                bar.update(max(0, seen.done - bar.n))
                bar.set_postfix_str(progress(seen))
        except asyncio.CancelledError:  # Ctrl-C under asyncio.run
            ended.cancel()
            await runner.cancel(ctx, job.id)
            print(f"{what}: cancelled")
            return None
    done = ended.result()
    if done.state is not JobState.COMPLETED:
        print(f"{what} failed ({done.state.value}): {done.error}")
        return None
    return done


def _move_files(source: Path, files: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """The job's files (checkpoint entries) moved into ``out``: ``{type, url, count}``."""
    if files:
        out.mkdir(parents=True, exist_ok=True)
    moved = []
    for entry in files:
        target = out / entry["name"]
        shutil.move(source / entry["name"], target)
        moved.append(
            {"type": entry["type"], "url": target.resolve().as_uri(), "count": entry["count"]}
        )
    return moved


async def _start_export(
    jobs: DirectJobs, ctx: TenantContext, options: ExportOptions, request: str
) -> Job:
    if options.group:  # NotFound / Gone now, not a failed job later
        await jobs.store.read(ctx, "Group", options.group)
    params = read_export_request(
        options.pairs(), options.level(), request=request, now=datetime.now(UTC),
        strict=True, group_id=options.group,
    )  # fmt: skip
    return await jobs.runner.submit(ctx, EXPORT, params.params())


async def _run_export(
    dsn: str, ctx: TenantContext, options: ExportOptions, workdir: Path, request: str
) -> Job | None:
    async with _open(dsn, workdir, None) as jobs:
        try:
            job = await _start_export(jobs, ctx, options, request)
        except FhirError as exc:
            print(f"export refused: {exc.message}")
            return None
        return await _follow(jobs.runner, ctx, job, "export")


def export(dsn: str, tenant: str, options: ExportOptions, out: Path, request: str) -> int:
    """Export into ``out``: the NDJSON files and ``manifest.json``; 0 when it completed."""
    ctx = TenantContext.of(tenant)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".polyfhir-export-", dir=out) as tmp:
        done = asyncio.run(_run_export(dsn, ctx, options, Path(tmp), request))
        if done is None:
            return 1
        result, folder = ExportCheckpoint.of(done.checkpoint), Path(tmp) / done.id
        files = [_move_files(folder, f, out) for f in (result.output, result.deleted, result.error)]
        manifest = export_manifest(done, False, *files)
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    counts = ", ".join(f"{e['type']} {e['count']}" for e in manifest["output"]) or "nothing"
    print(f"exported {counts} to {out}")
    return 0


def _input_folder(inputs: list[dict[str, str]]) -> str | None:
    """The folder holding every ``file://`` input (the import may read only under it)."""
    paths = [
        os.path.dirname(unquote(urlparse(i["url"]).path))
        for i in inputs
        if urlparse(i["url"]).scheme == "file"
    ]
    return os.path.commonpath(paths) if paths else None


async def _run_import(
    dsn: str, ctx: TenantContext, params: ImportRequest, workdir: Path, allowed: str | None
) -> Job | None:
    async with _open(dsn, workdir, allowed) as jobs:
        job = await jobs.runner.submit(ctx, IMPORT, params.params())
        return await _follow(jobs.runner, ctx, job, "import")


def import_(dsn: str, tenant: str, inputs: list[dict[str, str]], errors: Path, request: str) -> int:
    """Import ``inputs`` ({type, url}); bad lines into error files under ``errors``."""
    ctx, allowed = TenantContext.of(tenant), _input_folder(inputs)
    try:
        params = read_import_request(
            import_parameters(inputs), request=request, now=datetime.now(UTC),
            allowed_dir=allowed, s3=False,
        )  # fmt: skip
    except FhirError as exc:
        print(f"import refused: {exc.message}")
        return 1
    with tempfile.TemporaryDirectory(prefix="polyfhir-import-") as tmp:
        done = asyncio.run(_run_import(dsn, ctx, params, Path(tmp), allowed))
        if done is None:
            return 1
        result = ImportCheckpoint.of(done.checkpoint)
        moved = _move_files(Path(tmp) / done.id, result.error, errors)
    print(f"imported {sum(result.imported)} resources; {result.errors} bad line(s)")
    for entry in moved:
        print(f"  errors: {entry['url']}")
    return 0
