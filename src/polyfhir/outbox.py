"""``polyfhir outbox``: the operator's view of dead-lettered outbox rows.

A row the broker refused for good (too large, invalid) is set aside by the relay
with its reason instead of blocking its partition (docs/events.md). These commands
open the primary database of ``POLYFHIR_PRIMARY_URL`` directly, like a migration
would, list those rows and make them pending again once the cause is fixed (a larger
broker limit, or a release that encodes them); the running relay then sends them
with fresh positions.
"""

from __future__ import annotations

from collections.abc import Sequence

from polyfhir_primary.bootstrap import open_database
from polyfhir_primary.settings import PrimarySettings


async def list_dead_letters(limit: int = 1000) -> int:
    database = await open_database(PrimarySettings())
    try:
        rows = await database.dead_lettered_outbox(limit)
    finally:
        await database.close()
    for r in rows:
        print(
            f"{r.seq}\t{r.dead_lettered_at.isoformat()}\t{r.tenant}\t"
            f"{r.resource_type}/{r.resource_id}/_history/{r.version}\t{r.payload_bytes} bytes\t"
            f"{r.reason}"
        )
    print(f"{len(rows)} dead-lettered row(s)")
    return 0


async def retry_dead_letters(seqs: Sequence[int] | None) -> int:
    database = await open_database(PrimarySettings())
    try:
        retried = await database.retry_dead_lettered(seqs)
    finally:
        await database.close()
    print(f"{retried} row(s) pending again; the relay publishes them")
    return 0
