"""Writers of one SQLite file in different processes take turns on a file lock.

A second process's write waits on ``<file>.write-lock`` while another process's
write transaction is open, and goes ahead once it commits (SQLite's busy
handler would make it sleep and retry, far longer). A write that fails drops the
lock like one that commits. The gate's own rules (one holder, a bounded wait,
dropped on close) are unit tests: tests/unit/primary/test_sqlite_write_gate.py.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
from pathlib import Path

import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.adapters.database import Database
from polyfhir_primary.bootstrap import open_database
from polyfhir_primary.service_layer.store_service import StoreService
from polyfhir_primary.settings import PrimarySettings

pytestmark = pytest.mark.integration

TENANT = "gate"

# Another process: one PUT through the store, on the same file.
_WRITER = """
import asyncio, sys
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.bootstrap import open_database
from polyfhir_primary.service_layer.store_service import StoreService
from polyfhir_primary.settings import PrimarySettings

async def main(url):
    db = await open_database(PrimarySettings(primary_url=url, kafka_bootstrap=""))
    service = StoreService(db=db, indexer=extract_index_values,
                           registry=SearchParameterRegistry.default())
    body = {"resourceType": "Patient", "id": "second", "gender": "male"}
    entry = EntryRequest(Method.PUT, "Patient/second", body)
    print("writing", flush=True)
    try:
        await service.process(TenantContext.of("gate"), BundleKind.TRANSACTION, [entry])
    finally:
        await db.close()

asyncio.run(main(sys.argv[1]))
"""


def _lock_file(path: Path) -> Path:
    return Path(f"{path}.write-lock")


def _gate_is_free(lock: Path) -> bool:
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # drops the lock, if taken
    return True


async def _open(path: Path) -> tuple[Database, StoreService]:
    db = await open_database(PrimarySettings(primary_url=f"sqlite:///{path}", kafka_bootstrap=""))
    service = StoreService(
        db=db, indexer=extract_index_values, registry=SearchParameterRegistry.default()
    )
    return db, service


async def _put(service: StoreService, rid: str) -> None:
    body = {"resourceType": "Patient", "id": rid, "gender": "female"}
    entry = EntryRequest(Method.PUT, f"Patient/{rid}", body)
    await service.process(TenantContext.of(TENANT), BundleKind.TRANSACTION, [entry])


async def test_another_process_writes_once_the_open_write_commits(tmp_path: Path) -> None:
    """The other process's write waits for ours (on the gate, then SQLite's lock) and
    goes ahead once ours commits: neither is refused nor lost."""
    path = tmp_path / "store.sqlite"
    db, service = await _open(path)
    try:
        await _put(service, "first")  # the schema exists before the other process opens
        url = f"sqlite:///{path}"
        async with db.session(TenantContext.of(TENANT).tenant, write=True):
            other = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _WRITER, url, stdout=asyncio.subprocess.PIPE
            )
            assert other.stdout is not None
            ready = await asyncio.wait_for(other.stdout.readline(), timeout=60)
            assert ready.strip() == b"writing", ready  # its write starts inside ours
        assert await asyncio.wait_for(other.wait(), timeout=60) == 0
        keys = [ResourceKey("Patient", "first"), ResourceKey("Patient", "second")]
        found = await service.read_many(TenantContext.of(TENANT), keys)
        assert sorted(r.id for r in found) == ["first", "second"]
        assert _gate_is_free(_lock_file(path))
    finally:
        await db.close()


async def _failing_write(db: Database, lock: Path) -> None:
    async with db.session(TenantContext.of(TENANT).tenant, write=True):
        assert not _gate_is_free(lock)  # held while the write is open
        raise RuntimeError("the write fails")


async def test_a_failed_write_leaves_the_gate_free(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    db, service = await _open(path)
    try:
        await _put(service, "committed")
        assert _gate_is_free(_lock_file(path))
        with pytest.raises(RuntimeError, match="the write fails"):
            await _failing_write(db, _lock_file(path))
        assert _gate_is_free(_lock_file(path))
        await _put(service, "after")  # and this process writes again
    finally:
        await db.close()
