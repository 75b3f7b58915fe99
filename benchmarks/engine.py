"""The search engine alone: bulk latency of the indexer's own writes, as the index grows.

    uv run python benchmarks/engine.py --documents 5000 --bulk 10

Starts the local engine (``osmem-server``), creates the search-indexer's index
(same settings and mappings), and writes ``--documents`` Patient documents,
built by the indexer's own ``document_for``, in bulks of ``--bulk`` with
``refresh=wait_for`` through the indexer's adapter, one bulk at a time with a
short pause between them (a steady trickle, well below saturation). Prints, per
block of 1,000 documents, the bulk p50 and the slowest bulk with the number of
documents indexed when it started.

Why: under the whole stack the sync lag's p99 is set by single bulks that take
hundreds of milliseconds although the engine is far from saturated. This
isolates the engine from the rest of the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from _common import percentile, table
from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_engines.osmem import LocalOpenSearch
from polyfhir_search.adapters.opensearch import OpenSearchIndex
from polyfhir_search.domain.documents import IndexDocument, document_for, text_registry
from secondary import _patient

BLOCK = 1000


def _documents(start: int, count: int, registry: SearchParameterRegistry) -> list[IndexDocument]:
    out = []
    for n in range(start, start + count):
        resource = {**_patient(n), "id": f"p{n}"}
        event = ResourceChanged(
            tenant="default",
            resource_type="Patient",
            resource_id=f"p{n}",
            version=1,
            kind=ChangeKind.CREATED,
            last_updated=datetime.now(UTC),
            resource=resource,
        )
        out.append(document_for(event, registry))
    return out


async def _run(url: str, documents: int, bulk: int, pause: float) -> list[list[object]]:
    registry = text_registry(SearchParameterRegistry.default())
    engine = OpenSearchIndex(url, "bench")
    await engine.ensure_index()
    blocks: dict[int, list[tuple[float, int]]] = {}
    try:
        for start in range(0, documents, bulk):
            batch = _documents(start, min(bulk, documents - start), registry)
            began = time.perf_counter()
            await engine.apply(batch)
            blocks.setdefault(start // BLOCK, []).append((time.perf_counter() - began, start))
            await asyncio.sleep(pause)  # the steady trickle, not a wait for a condition
    finally:
        await engine.close()
    rows: list[list[object]] = []
    for block, samples in sorted(blocks.items()):
        seconds = [s for s, _ in samples]
        slowest, at = max(samples)
        rows.append(
            [
                f"{block * BLOCK:,}-{(block + 1) * BLOCK - 1:,}",
                len(samples),
                percentile(seconds, 50) * 1000,
                slowest * 1000,
                f"{at:,}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--bulk", type=int, default=10, help="documents per bulk")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between bulks")
    args = parser.parse_args()
    with LocalOpenSearch() as engine:
        rows = asyncio.run(_run(engine.url, args.documents, args.bulk, args.pause))
    headers = ["documents", "bulks", "bulk p50 ms", "slowest bulk ms", "slowest began at doc"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
