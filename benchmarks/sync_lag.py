"""Sync lag of both indexers at a fixed write rate: search-indexer and graph-indexer
consuming the same stream, p50/p99 per indexer, the engine's write time apart from
the pipeline's part.

Runs the local stack with the graph (``LocalStack(graph=True)``) per backend.
Optionally ``--preload`` patients (``--preload 100000`` is ~1M resources; loaded
straight into the store service, outbox rows included) are applied by both
indexers first. Then writes arrive at ``--rate`` per second (open loop: a write
starts every 1/rate s, at most ``--concurrency`` in flight) for ``--seconds``:
Observations referencing a patient, so both indexers have work (a document, a
node and an edge). For every ``--sample``-th write the client asks each
indexer to tell it when that version is applied (``wait_applied``), so
end-to-end lag = write acknowledged -> applied, per indexer.

Each indexer also reports, from its own histograms (read from ``/metrics``
before and after the steady phase; bucket upper bounds):

- ``pipeline``: commit (the version's lastUpdated) -> the engine call that
  writes it: outbox, relay, broker, consumer, extraction;
- ``engine write``: the engine call alone, per batch.

    uv run python benchmarks/sync_lag.py --backends sqlite --rate 300 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from _common import bucket_quantile_ms, database_urls, percentile, scrape, table
from bulkload import bulk_load, workers_for
from polyfhir_core.contracts.graph_index import GRAPH_INDEX
from polyfhir_core.contracts.primary_store import PRIMARY_STORE
from polyfhir_core.contracts.search_index import SEARCH_INDEX
from polyfhir_core.contracts.secondary import AppliedVersion, IndexedSecondary
from polyfhir_core.errors import ServiceUnavailable
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.local_stack import LocalStack
from polyfhir_servicekit.contract_client import ServiceClients

TENANT = "default"
T = TypeVar("T")
QUIET = {"POLYFHIR_LOG_LEVEL": "WARNING", "POLYFHIR_ACCESS_LOG": "false"}


def _observation(n: int, patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": f"steady write {n}"},
        "subject": {"reference": f"Patient/{patient}"},
    }


async def _patients(client: httpx.AsyncClient, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        answer = await client.post("/Patient", json={"resourceType": "Patient"})
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    return ids


async def _caught_up(indexes: dict[str, IndexedSecondary], store_url: str) -> None:
    """Until every indexer has applied what the primary has published (or 1 h)."""
    clients = ServiceClients()
    store = clients.connect(PRIMARY_STORE, store_url)
    ctx = TenantContext.of(TENANT)
    try:
        async with asyncio.timeout(3600):
            while True:
                positions = await store.positions(ctx)
                if positions.pending == 0 and all(
                    [
                        await index.wait_positions(ctx, positions.partitions, 1_000)
                        for index in indexes.values()
                    ]
                ):
                    return
    finally:
        await clients.close()


async def _steady(
    stack: LocalStack, indexes: dict[str, IndexedSecondary], args: argparse.Namespace
) -> dict[str, Any]:
    gate = asyncio.Semaphore(args.concurrency)
    lags: dict[str, list[float]] = {name: [] for name in indexes}
    writes: list[float] = []
    waits: list[asyncio.Task[None]] = []
    ctx = TenantContext.of(TENANT)

    unanswered: dict[str, int] = dict.fromkeys(indexes, 0)

    async def lag_of(name: str, version: AppliedVersion, acknowledged: float) -> None:
        try:
            applied = await indexes[name].wait_applied(ctx, [version], 60_000)
        except ServiceUnavailable:  # a wait the loaded indexer dropped: counted, not fatal
            unanswered[name] += 1
            return
        if applied:
            lags[name].append(time.perf_counter() - acknowledged)

    async with httpx.AsyncClient(base_url=stack.base_url, timeout=120.0) as client:
        patients = await _patients(client, 20)

        async def write(n: int) -> None:
            async with gate:
                started = time.perf_counter()
                answer = await client.post("/Observation", json=_observation(n, patients[n % 20]))
                done = time.perf_counter()
            if answer.status_code != 201:
                raise RuntimeError(f"write failed: {answer.status_code} {answer.text[:300]}")
            writes.append(done - started)
            if n % args.sample == 0:
                version = AppliedVersion("Observation", answer.json()["id"], 1)
                waits.extend(asyncio.create_task(lag_of(name, version, done)) for name in indexes)

        begin = time.perf_counter()
        total = int(args.rate * args.seconds)
        tasks = []
        for n in range(total):
            delay = begin + n / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # the open-loop schedule, not a wait for a condition
            tasks.append(asyncio.create_task(write(n)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    await asyncio.gather(*waits)
    return {
        "writes": total,
        "achieved": total / elapsed,
        "write": writes,
        "lag": lags,
        "unanswered": unanswered,
    }


async def _with_indexes(
    stack: LocalStack, run: Callable[[dict[str, IndexedSecondary]], Awaitable[T]]
) -> T:
    """``run`` with clients of both indexers, opened and closed on this event loop."""
    assert stack.graph_indexer is not None
    clients = ServiceClients()
    indexes: dict[str, IndexedSecondary] = {
        "search": clients.connect(SEARCH_INDEX, stack.indexer.url),
        "graph": clients.connect(GRAPH_INDEX, stack.graph_indexer.url),
    }
    try:
        return await run(indexes)
    finally:
        await clients.close()


def _run_backend(backend: str, url: str, args: argparse.Namespace) -> list[list[object]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"polyfhir-sync-lag-{backend}-"))
    sync = {"mode": "asynchronous", "max_read_lag_ms": 0}
    rows: list[list[object]] = []
    with LocalStack(workdir, primary_url=url, sync=sync, extra_env=QUIET, graph=True) as stack:
        assert stack.graph_indexer is not None
        services = {"search": stack.indexer.url, "graph": stack.graph_indexer.url}
        preloaded = 0
        if args.preload > 0:
            preloaded, _ = bulk_load(url, 0, args.preload, workers=workers_for(backend, 2))
            asyncio.run(_with_indexes(stack, lambda ix: _caught_up(ix, stack.primary.url)))
        before = {name: scrape(service) for name, service in services.items()}
        steady = asyncio.run(_with_indexes(stack, lambda ix: _steady(stack, ix, args)))
        for name, service in services.items():
            after = scrape(service)
            lag = steady["lag"][name]

            def hist(
                metric: str, q: float, name: str = name, after: dict[str, float] = after
            ) -> str:
                return str(bucket_quantile_ms(before[name], after, f"polyfhir_{name}_{metric}", q))

            rows.append(
                [
                    backend,
                    f"{preloaded:,}",
                    name,
                    args.rate,
                    steady["achieved"],
                    len(lag),
                    steady["unanswered"][name],
                    percentile(lag, 50) * 1000,
                    percentile(lag, 99) * 1000,
                    hist("pipeline_lag_seconds", 0.5),
                    hist("pipeline_lag_seconds", 0.99),
                    hist("engine_write_seconds", 0.5),
                    hist("engine_write_seconds", 0.99),
                ]
            )
        print(table(HEADERS, rows), flush=True)
    return rows


HEADERS = [
    "backend",
    "preloaded",
    "indexer",
    "target/s",
    "achieved/s",
    "lag samples",
    "waits dropped",
    "lag p50 ms",
    "lag p99 ms",
    "pipeline p50 ms",
    "pipeline p99 ms",
    "engine write p50 ms",
    "engine write p99 ms",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rate", type=float, default=300.0, help="target writes/s")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=64, help="writes in flight at most")
    parser.add_argument("--sample", type=int, default=5, help="measure every n-th write")
    parser.add_argument("--preload", type=int, default=0, help="carebundle patients first")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    rows: list[list[object]] = []
    with database_urls(backends) as urls:
        for backend in backends:
            rows += _run_backend(backend, urls[backend], args)
    print("\n## sync lag per indexer (asynchronous, acknowledged write -> applied)\n")
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
