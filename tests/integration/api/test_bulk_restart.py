"""An export in flight when its gateway stops is resumed by the next one from its
checkpoint (the last file stored), over SQLite and PostgreSQL: every resource once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.jobs import JobState
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.bulk.export_job import EXPORT
from polyfhir_gateway.bulk.export_request import ExportLevel, read_export_request
from polyfhir_gateway.bulk.job_kinds import bulk_kinds
from polyfhir_gateway.bulk.storage import LocalStorage
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_servicekit.jobs import JobRunner

pytestmark = pytest.mark.integration


class StallingStorage(LocalStorage):
    """Stores the first file, then holds the second in flight until its process stops."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.stored = 0
        self.stalled = asyncio.Event()

    async def store(self, key: str, source: Path) -> None:
        self.stored += 1
        if self.stored == 2:
            self.stalled.set()
            await asyncio.Event().wait()  # until the runner stops
        await super().store(key, source)


async def test_an_export_left_running_resumes_from_its_last_file(
    store_app: Any, tmp_path: Path
) -> None:
    store, tenant = store_app.service, f"t{uuid.uuid4().hex[:12]}"
    ctx = TenantContext.of(tenant)
    patients = [f"p{n}" for n in range(7)]
    entries = [
        EntryRequest(Method.PUT, f"Patient/{p}", {"resourceType": "Patient", "id": p})
        for p in patients
    ]
    await store.process(ctx, BundleKind.TRANSACTION, entries)
    settings = GatewaySettings(
        bulk_output_dir=str(tmp_path), bulk_file_max_resources=2, bulk_page_size=3
    )
    export = read_export_request(
        [("_type", "Patient")],
        ExportLevel.SYSTEM,
        request="http://x/fhir/$export",
        now=await _now(store, ctx),
        strict=True,
    )
    stalling = StallingStorage(tmp_path)
    first = JobRunner(store, bulk_kinds(store, stalling, settings))
    job = await first.submit(ctx, EXPORT, export.params())
    await stalling.stalled.wait()
    await first.close()  # the gateway stops with the second file half written
    left = await store.get_job(ctx, job.id)
    assert left.state is JobState.RUNNING and len(left.checkpoint["output"]) == 1

    storage = LocalStorage(tmp_path)
    second = JobRunner(store, bulk_kinds(store, storage, settings))
    await second.start()  # claims the released job and resumes it
    done = await second.wait(ctx, job.id)
    await second.close()
    assert done.state is JobState.COMPLETED, done.error
    assert done.checkpoint is not None
    files = done.checkpoint["output"]
    assert [f["count"] for f in files] == [2, 2, 2, 1]
    exported = [
        orjson.loads(line)["id"]
        for f in files
        for line in (tmp_path / job.id / f["name"]).read_bytes().splitlines()
    ]
    assert sorted(exported) == patients  # each once: none lost, none repeated
    assert list(storage.spool.iterdir()) == []


async def _now(store: Any, ctx: TenantContext, last: str | None = "p6") -> Any:
    if last is None:
        from datetime import UTC, datetime

        return datetime.now(UTC)
    read = await store.read(ctx, "Patient", last)
    return read.last_updated


async def test_cancelling_a_running_export_stops_it_and_removes_its_files(
    store_app: Any, tmp_path: Path
) -> None:
    from datetime import timedelta

    from polyfhir_core.errors import NotFound
    from polyfhir_gateway.bulk.exports import BulkJobs

    store, tenant = store_app.service, f"t{uuid.uuid4().hex[:12]}"
    ctx = TenantContext.of(tenant)
    entries = [
        EntryRequest(Method.PUT, f"Patient/c{n}", {"resourceType": "Patient", "id": f"c{n}"})
        for n in range(5)
    ]
    await store.process(ctx, BundleKind.TRANSACTION, entries)
    settings = GatewaySettings(
        bulk_output_dir=str(tmp_path), bulk_file_max_resources=2, bulk_page_size=3
    )
    stalling = StallingStorage(tmp_path)
    runner = JobRunner(store, bulk_kinds(store, stalling, settings))
    bulk = BulkJobs(runner, stalling, 2, timedelta(hours=1))
    export = read_export_request(
        [("_type", "Patient")], ExportLevel.SYSTEM, request="r", now=await _now(store, ctx, "c4"),
        strict=True,
    )  # fmt: skip
    job = await bulk.start(ctx, EXPORT, export.params())
    await stalling.stalled.wait()  # one file stored, the second in flight
    assert (tmp_path / job.id).is_dir()
    cancelled = await bulk.cancel(ctx, EXPORT, job.id)
    assert cancelled.state is JobState.CANCELLED
    assert not (tmp_path / job.id).exists()
    with pytest.raises(NotFound):
        await bulk.status(ctx, EXPORT, job.id)
    await runner.close()


class StallingStore:
    """The store, except that its third ``process`` call hangs until its process stops."""

    def __init__(self, store: Any) -> None:
        self.store, self.calls = store, 0
        self.stalled = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def process(self, ctx: TenantContext, kind: BundleKind, entries: Any) -> Any:
        self.calls += 1
        if self.calls == 3:
            self.stalled.set()
            await asyncio.Event().wait()
        return await self.store.process(ctx, kind, entries)


async def test_an_import_left_running_resumes_after_its_last_batch(
    store_app: Any, tmp_path: Path
) -> None:
    from polyfhir_gateway.bulk.import_job import IMPORT
    from polyfhir_gateway.bulk.import_request import ImportInput, ImportRequest

    store, tenant = store_app.service, f"t{uuid.uuid4().hex[:12]}"
    ctx = TenantContext.of(tenant)
    lines = [orjson.dumps({"resourceType": "Patient", "id": f"i{n}"}) for n in range(7)]
    lines.insert(1, b"not json")
    source = tmp_path / "in.ndjson"
    source.write_bytes(b"\n".join(lines))
    settings = GatewaySettings(
        bulk_output_dir=str(tmp_path / "out"), bulk_import_dir=str(tmp_path), bulk_import_batch=2
    )
    storage = LocalStorage(tmp_path / "out")
    request = ImportRequest(
        "r", await _now(store, ctx, None), [ImportInput("Patient", source.as_uri())]
    )
    stalling = StallingStore(store)
    first = JobRunner(store, bulk_kinds(stalling, storage, settings))
    job = await first.submit(ctx, IMPORT, request.params())
    await stalling.stalled.wait()
    await first.close()  # stopped in the middle of its third batch

    second = JobRunner(store, bulk_kinds(store, storage, settings))
    await second.start()
    done = await second.wait(ctx, job.id)
    await second.close()
    assert done.state is JobState.COMPLETED, done.error
    assert done.checkpoint is not None
    assert (done.checkpoint["imported"], done.checkpoint["errors"]) == ([7], 1)
    errors = [
        line
        for f in done.checkpoint["error"]
        for line in (tmp_path / "out" / job.id / f["name"]).read_bytes().splitlines()
    ]
    assert len(errors) == 1 and b"line 2" in errors[0]
    for n in range(7):
        assert (await store.read(ctx, "Patient", f"i{n}")).version == 1  # written once
