"""Fast bulk load for the benchmarks: carebundle patients straight into the store service.

Loading through HTTP runs at ~950 resources/s on PostgreSQL here, i.e. ~20 min
for 1M resources, and generating a carebundle patient costs ~60 ms. So:

- ``TEMPLATES`` patients are generated once (cached as JSON lines) and cloned:
  clone *k* is template *k mod TEMPLATES* with its own patient identifier
  (``…-k``) and a family name tagged per clone generation (``Smith`` ->
  ``Smithaab``), so name and chain queries keep their selectivity as the data
  grows; everything else (codes, dates, narrative) repeats, and the server
  assigns fresh ids on every transaction.
- Each bundle is one transaction through ``StoreService.process`` — the same
  code the HTTP API calls, so resources, versions, outbox rows, full-text
  documents and index rows are written exactly as by normal writes (the
  gateway's HTTP parsing and resource validation are skipped).
- ``workers`` processes (PostgreSQL: several; SQLite: one, it has one writer)
  each run ``concurrency`` transactions at a time on their own slice; or, with
  ``group`` > 1 (the SQLite preload: 100), up to ``group`` clones merged into one
  transaction, one at a time (:func:`transactions`: the same rows).

    uv run python benchmarks/bulkload.py --backends sqlite,postgresql --patients 200

prints the ingest comparison: resources/s with index rows vs with index rows
only for the shared practitioners (needed by the conditional creates), so
both runs write the same resources.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from _common import database_urls, table
from _sqlite_indexes import deferred_indexes
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.indexing import IndexValues, extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.resources import Json
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.bootstrap import open_database, sqlite_path
from polyfhir_primary.service_layer.store_service import StoreService
from polyfhir_primary.settings import PrimarySettings
from polyfhir_testing.datasets import SHARED_TYPES, patient_bundles

TEMPLATES = 200
TENANT = "default"
Indexer = Callable[[Json, SearchParameterRegistry], IndexValues]


def templates(count: int = TEMPLATES) -> list[bytes]:
    """``count`` carebundle patients as JSON (cached in the temp dir across runs)."""
    cache = Path(tempfile.gettempdir()) / f"polyfhir-bench-templates-{count}.jsonl"
    if cache.exists():
        return cache.read_bytes().splitlines()
    lines = [orjson.dumps(b) for b in patient_bundles(count)]
    cache.write_bytes(b"\n".join(lines))
    return lines


def family_tag(k: int, templates: int = TEMPLATES) -> str:
    """Three letters per clone generation, appended to the family name, so a family
    matches about as many patients at every data size (and no tag prefixes another)."""
    g = k // templates
    return "".join(chr(ord("a") + (g // 26**i) % 26) for i in (2, 1, 0))


def clone(tpl: list[bytes], k: int) -> dict[str, Any]:
    bundle: dict[str, Any] = orjson.loads(tpl[k % len(tpl)])
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            resource["name"][0]["family"] += family_tag(k, len(tpl))
            if k >= len(tpl):
                ident = resource["identifier"][0]
                ident["value"] = f"{ident['value']}-{k}"
    return bundle


def entries(bundle: dict[str, Any]) -> list[EntryRequest]:
    out = []
    for raw in bundle["entry"]:
        request = raw["request"]
        out.append(
            EntryRequest(
                method=Method(request["method"]),
                url=request["url"].lstrip("/"),
                resource=raw["resource"],
                full_url=raw.get("fullUrl"),
                if_none_exist=request.get("ifNoneExist"),
            )
        )
    return out


def shared_only(resource: Json, registry: SearchParameterRegistry) -> IndexValues:
    """Index rows only where conditional creates need them (shared practitioners)."""
    if resource.get("resourceType") in SHARED_TYPES:
        return extract_index_values(resource, registry)
    return IndexValues()


def conditions(bundle: dict[str, Any]) -> set[str]:
    """The bundle's conditional creates (``ifNoneExist``): the shared resources it names."""
    return {e["request"]["ifNoneExist"] for e in bundle["entry"] if e["request"].get("ifNoneExist")}


def transactions(tpl: list[bytes], ks: list[int], group: int) -> list[list[int]]:
    """``ks`` in order, in transactions of up to ``group`` clones.

    Clones merged into one transaction keep every row a transaction of their own
    writes (the entries are the same; only ``lastUpdated`` is shared per transaction),
    provided that (1) their fullUrls do not collide: no two clones of one template
    (the clones of a template share its urn:uuids), and (2) no conditional create
    of the merged transaction is new: two entries creating the same absent resource in
    one transaction would both create it, where separate transactions match the first.
    So a clone naming a shared resource no earlier clone named goes alone (at 200
    templates and 20 shared practitioners, the first 20 clones), the rest merged; and
    the transactions must run one at a time, in order (``_load`` sees to it), so the
    clone that creates a shared resource commits before any merged one names it.
    """
    shared = [conditions(orjson.loads(raw)) for raw in tpl]
    batches: list[list[int]] = []
    current: list[int] = []
    in_current: set[int] = set()  # the templates of ``current``
    named: set[str] = set()
    for k in ks:
        template = k % len(tpl)
        new = shared[template] - named
        if current and (new or len(current) >= group or template in in_current):
            batches.append(current)
            current, in_current = [], set()
        if new:
            batches.append([k])
            named |= new
        else:
            current.append(k)
            in_current.add(template)
    return [*batches, current] if current else batches


async def _load(url: str, ks: list[int], concurrency: int, index: bool, group: int = 1) -> int:
    database = await open_database(PrimarySettings(primary_url=url, kafka_bootstrap=""))
    service = StoreService(
        db=database,
        indexer=extract_index_values if index else shared_only,
        registry=SearchParameterRegistry.default(),
    )
    tpl = templates()
    ctx = TenantContext.of(TENANT)
    queue = list(reversed(transactions(tpl, ks, group)))
    concurrency = 1 if group > 1 else concurrency  # merged: in order (``transactions``)
    written = 0

    async def worker() -> None:
        nonlocal written
        while queue:
            batch = [e for k in queue.pop() for e in entries(clone(tpl, k))]
            responses = await service.process(ctx, BundleKind.TRANSACTION, batch)
            written += sum(1 for r in responses if r.status == 201)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await database.close()
    return written


async def _open_and_close(url: str) -> None:
    database = await open_database(PrimarySettings(primary_url=url, kafka_bootstrap=""))
    await database.close()


def _process(args: tuple[str, list[int], int, bool, int]) -> int:
    return asyncio.run(_load(*args))


def bulk_load(
    url: str,
    start: int,
    stop: int,
    *,
    workers: int,
    concurrency: int = 4,
    index: bool = True,
    group: int = 1,
    defer_indexes: bool = False,
) -> tuple[int, float]:
    """Load patients ``start..stop``; ``(resources created, seconds)``. ``group`` > 1
    merges up to that many clones per transaction (:func:`transactions`);
    ``defer_indexes`` (a SQLite file) builds the index tables' indexes after the load
    (``_sqlite_indexes``; the time includes it)."""
    templates()  # generate the cache once, before the workers read it
    slices = [list(range(start + w, stop, workers)) for w in range(workers)]
    started = time.perf_counter()
    path = sqlite_path(url) if defer_indexes and url.startswith("sqlite") else None
    if path is not None:
        asyncio.run(_open_and_close(url))  # the schema, before its indexes are dropped
    ctx = multiprocessing.get_context("spawn")
    with deferred_indexes(path), ctx.Pool(workers) as pool:
        jobs = [(url, s, concurrency, index, group) for s in slices]
        created = sum(pool.map(_process, jobs))
    return created, time.perf_counter() - started


_PREWARM = """
SELECT c.relname, pg_prewarm(c.oid::regclass) FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND (
  (c.relkind = 'i' AND (c.relname LIKE 'idx\\_%' OR c.relname LIKE 'resources%'
                        OR c.relname LIKE 'fulltext%'))
  OR (c.relkind = 'r' AND c.relname IN ('resources', 'fulltext')))
ORDER BY pg_relation_size(c.oid)
"""


async def prewarm(url: str) -> None:
    """PostgreSQL: read the search's indexes, resources and documents into shared buffers
    (6.6 GB at 1M resources; the index tables themselves are read by index-only scans).

    A server sized for 1M resources keeps them in memory; this machine's page
    cache is reclaimed under the benchmark (``kdamond``), so without this the
    latencies measured are those of a disk read here and there, and move by
    5-10 ms from run to run. Shared buffers are not reclaimed."""
    if not url.startswith("postgres"):
        return
    raw = await asyncpg.connect(url)
    try:
        await raw.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        await raw.fetch(_PREWARM)
    finally:
        await raw.close()


async def analyze(url: str) -> None:
    """Statistics for the new data, and on PostgreSQL the visibility map too: the state
    autovacuum reaches on its own a while after a bulk load, which index-only scans need
    (``VACUUM (ANALYZE)``; on SQLite opening the store runs ANALYZE)."""
    if url.startswith("postgres"):
        raw = await asyncpg.connect(url)
        try:
            await raw.execute("VACUUM (ANALYZE)")
        finally:
            await raw.close()
    database = await open_database(PrimarySettings(primary_url=url, kafka_bootstrap=""))
    await database.close()


def workers_for(backend: str, requested: int) -> int:
    return 1 if backend == "sqlite" else requested


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="processes (PostgreSQL)")
    parser.add_argument("--concurrency", type=int, default=4, help="transactions per process")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="loads per mode, alternating; the table shows the median (one load varies"
        " by up to 30 %% on a shared machine)",
    )
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    rows: list[list[object]] = []
    for backend in backends:
        speeds: dict[bool, list[float]] = {False: [], True: []}
        created = 0
        for _ in range(args.repeat):
            for index in (False, True):
                with database_urls([backend]) as urls:
                    created, seconds = bulk_load(
                        urls[backend],
                        0,
                        args.patients,
                        workers=workers_for(backend, args.workers),
                        concurrency=args.concurrency,
                        index=index,
                    )
                speeds[index].append(created / seconds)
        for index in (False, True):
            label = "all index rows" if index else "no index rows"
            runs = ", ".join(f"{v:,.0f}" for v in speeds[index])
            rows.append([backend, label, created, statistics.median(speeds[index]), runs, ""])
        ratio = statistics.median(speeds[False]) / statistics.median(speeds[True])
        rows[-1][-1] = f"{ratio:.2f}x"
    headers = ["backend", "indexing", "resources", "median resources/s", "runs", "slowdown"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
