"""SQLite's WAL is checkpointed beside the writer, not inside its commits.

The writer runs with automatic checkpoints off; if nothing else checkpointed,
the WAL would hold every page ever written and the database file none of them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.support import eventually

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.bootstrap import open_database
from polyfhir_primary.service_layer.store_service import StoreService
from polyfhir_primary.settings import PrimarySettings

pytestmark = pytest.mark.integration

WRITES = 400  # ~160 KiB of WAL each: ~64 MiB appended in all
PADDING = "x" * 4000  # ~1 page of content per version, twice (current + history)
WAL_BOUND = 32 * 2**20  # twice the Checkpointer's limit (4,000 pages of 4 KiB)


def _patients_in_main_file(path: Path) -> int:
    """Rows the database file itself holds, ignoring the WAL (``immutable``)."""
    raw = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(raw.execute("SELECT COUNT(*) FROM resources").fetchone()[0])
    finally:
        raw.close()


async def test_commits_reach_the_database_file_and_the_wal_stays_bounded(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.sqlite"
    database = await open_database(
        PrimarySettings(primary_url=f"sqlite:///{path}", kafka_bootstrap="")
    )
    service = StoreService(
        db=database, indexer=extract_index_values, registry=SearchParameterRegistry.default()
    )
    ctx = TenantContext.of("wal")
    try:
        for n in range(WRITES):
            body = {"resourceType": "Patient", "name": [{"text": f"{PADDING} {n}"}]}
            entry = EntryRequest(Method.PUT, f"Patient/p{n}", {**body, "id": f"p{n}"})
            await service.process(ctx, BundleKind.TRANSACTION, [entry])

        async def checkpointed() -> bool | None:
            try:
                return True if _patients_in_main_file(path) == WRITES else None
            except sqlite3.DatabaseError:  # read while a checkpoint was writing the file
                return None

        await eventually(checkpointed, what="every commit copied into the database file")
        # Every commit appended its pages (~40 per version: row, history, index rows,
        # full text, outbox); the file holds a fraction: it was emptied as it went.
        assert Path(f"{path}-wal").stat().st_size < WAL_BOUND  # noqa: ASYNC240
    finally:
        await database.close()
