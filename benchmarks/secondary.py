"""The secondary path: sync lag under steady ingest, and ``_text`` on the search service
versus the primary's own full text.

Runs the whole local stack (``LocalStack``: Tansu, osmem, primary-store + relay,
search-indexer, gateway as separate processes) per backend.

1. **Sync lag**: writes at a steady target rate (open loop: a write starts every
   1/rate s, at most ``--concurrency`` in flight) for ``--seconds``; for every
   ``--sample``-th write the client asks the search service to tell it when that
   version is applied (``wait_applied``), so lag = write acknowledged → searchable.
   The indexer's own histogram (event lastUpdated → applied) is quoted beside it.
2. **Full text at size**: ``--patients`` carebundle patients are bulk-loaded into
   the stack's primary (through the store service, outbox rows included, so the
   relay and the indexer carry every one of them), then the same ``_text`` and
   ``_content`` queries run through the stack's gateway (served by the search
   service) and through a second gateway with no secondaries (the primary's
   FTS5 / tsvector).

    uv run python benchmarks/secondary.py --backends sqlite,postgresql --rate 500 --patients 2000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from _common import bucket_quantile_ms, database_urls, percentile, scrape, table
from bulkload import bulk_load, templates, workers_for
from polyfhir_core.contracts.search_index import SEARCH_INDEX
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.local_stack import LocalStack, Service
from polyfhir_engines.processes import free_port
from polyfhir_servicekit.contract_client import ServiceClients
from search import _facts

TENANT = "default"


def _patient(n: int) -> dict[str, Any]:
    div = f'<div xmlns="http://www.w3.org/1999/xhtml">Steady ingest patient {n}</div>'
    return {
        "resourceType": "Patient",
        "text": {"status": "generated", "div": div},
        "name": [{"family": f"Lag{n}"}],
    }


def _request(n: int, bundle: int) -> tuple[str, dict[str, Any]]:
    """A single create, or a transaction of ``bundle`` creates (``bundle`` writes at once)."""
    if bundle <= 1:
        return "/Patient", _patient(n)
    entries = [
        {"resource": _patient(n * bundle + k), "request": {"method": "POST", "url": "Patient"}}
        for k in range(bundle)
    ]
    return "", {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _created_ids(answer: httpx.Response, bundle: int) -> list[str]:
    if bundle <= 1:
        return [answer.json()["id"]]
    return [e["response"]["location"].split("/")[1] for e in answer.json()["entry"]]


async def _steady(stack: LocalStack, args: argparse.Namespace) -> dict[str, Any]:
    """Open loop: a request every ``bundle / rate`` s (at most ``concurrency`` in flight)."""
    clients = ServiceClients()
    index = clients.connect(SEARCH_INDEX, stack.indexer.url)
    gate = asyncio.Semaphore(args.concurrency)
    requests_per_s = args.rate / max(args.bundle, 1)
    writes: list[float] = []
    lags: list[float] = []
    timeline: list[tuple[float, float]] = []  # (acknowledged, lag) in s since the start
    waits: list[asyncio.Task[None]] = []
    begin = time.perf_counter()

    async def lag_of(version: AppliedVersion, acknowledged: float) -> None:
        if await index.wait_applied(TenantContext.of(TENANT), [version], 30_000):
            lags.append(time.perf_counter() - acknowledged)
            timeline.append((acknowledged - begin, lags[-1]))

    async def write(client: httpx.AsyncClient, n: int) -> None:
        path, body = _request(n, args.bundle)
        async with gate:
            started = time.perf_counter()
            answer = await client.post(path, json=body)
            done = time.perf_counter()
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"write failed: {answer.status_code} {answer.text[:300]}")
        writes.append(done - started)
        if n % args.sample == 0:
            for rid in _created_ids(answer, args.bundle)[:1]:
                version = AppliedVersion("Patient", rid, 1)
                waits.append(asyncio.create_task(lag_of(version, done)))

    async with httpx.AsyncClient(base_url=stack.base_url, timeout=120.0) as client:
        tasks = []
        total = int(requests_per_s * args.seconds)
        for n in range(total):
            delay = begin + n / requests_per_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # the open-loop schedule, not a wait for a condition
            tasks.append(asyncio.create_task(write(client, n)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    await asyncio.gather(*waits)
    await clients.close()
    resources = total * max(args.bundle, 1)
    if args.timeline:
        print("second | lag samples | lag p50 ms | lag max ms")
        for second in range(int(args.seconds) + 1):
            window = [lag for at, lag in timeline if second <= at < second + 1]
            if window:
                print(
                    f"{second} | {len(window)} | {percentile(window, 50) * 1000:.0f}"
                    f" | {max(window) * 1000:.0f}"
                )
    return {"writes": resources, "achieved": resources / elapsed, "write": writes, "lag": lags}


async def _text_latency(base: str, words: list[str], runs: int) -> dict[str, list[float]]:
    rng = random.Random(7)
    out: dict[str, list[float]] = {"_text": [], "_content": []}
    routes: set[str] = set()
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:
        for name, values in out.items():
            for _ in range(runs):
                params = {name: rng.choice(words), "_count": "20"}
                started = time.perf_counter()
                answer = await client.get("/Condition", params=params)
                values.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise RuntimeError(f"{name}: {answer.status_code} {answer.text}")
                routes.add(answer.headers.get("x-polyfhir-route", ""))
    out["routes"] = sorted(routes)  # type: ignore[assignment]
    return out


def _caught_up(stack: LocalStack, timeout: float = 1800.0) -> float:
    """Seconds until the index has applied every change the primary has published."""
    started = time.perf_counter()
    deadline = started + timeout
    with httpx.Client(timeout=30.0) as client:
        while time.perf_counter() < deadline:
            answer = client.get(f"{stack.base_url}/Condition", params={"_content": "zzzznothing"})
            if "search" in answer.headers.get("x-polyfhir-route", ""):
                return time.perf_counter() - started
            time.sleep(0.5)  # polling the freshness the gateway itself reports
    raise RuntimeError("the search index did not catch up")


def _run_backend(
    backend: str, url: str, args: argparse.Namespace, rows: dict[str, list[list[object]]]
) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"polyfhir-secondary-{backend}-"))
    quiet = {"POLYFHIR_LOG_LEVEL": "WARNING", "POLYFHIR_ACCESS_LOG": "false"}
    sync = {"mode": "asynchronous", "max_read_lag_ms": 0}
    with LocalStack(workdir, primary_url=url, sync=sync, extra_env=quiet) as stack:
        steady = asyncio.run(_steady(stack, args))
        metrics = scrape(stack.indexer.url)
        name = "polyfhir_search_sync_lag_seconds"
        rows["lag"].append(
            [
                backend,
                args.bundle,
                steady["writes"],
                args.rate,
                steady["achieved"],
                percentile(steady["write"], 50) * 1000,
                percentile(steady["write"], 99) * 1000,
                len(steady["lag"]),
                percentile(steady["lag"], 50) * 1000,
                percentile(steady["lag"], 99) * 1000,
                bucket_quantile_ms({}, metrics, name, 0.5),
                bucket_quantile_ms({}, metrics, name, 0.99),
            ]
        )
        print(table(LAG_HEADERS, rows["lag"]), flush=True)
        if args.patients <= 0:
            return
        created, seconds = bulk_load(url, 0, args.patients, workers=workers_for(backend, 2))
        indexed = _caught_up(stack)
        primary_only = Service(
            "gateway-primary-only",
            "polyfhir-gateway",
            free_port(),
            {**quiet, "POLYFHIR_PRIMARY_STORE_URL": stack.primary.url},
            workdir / "logs",
        )
        primary_only.start()
        try:
            words = _facts(templates(), args.patients)["words"]
            via_search = asyncio.run(_text_latency(stack.base_url, words, args.runs))
            via_primary = asyncio.run(_text_latency(f"{primary_only.url}/fhir", words, args.runs))
        finally:
            primary_only.stop()
        for served, result in (("search service", via_search), ("primary FTS", via_primary)):
            for query in ("_text", "_content"):
                values = result[query]
                rows["text"].append(
                    [
                        backend,
                        f"{created:,}",
                        f"{created / seconds:,.0f}",
                        f"{indexed:,.0f}",
                        query,
                        served,
                        ";".join(result["routes"]),  # type: ignore[arg-type]
                        percentile(values, 50) * 1000,
                        percentile(values, 99) * 1000,
                    ]
                )
        print(table(TEXT_HEADERS, rows["text"]), flush=True)


LAG_HEADERS = [
    "backend",
    "resources/request",
    "writes",
    "target/s",
    "achieved/s",
    "request p50 ms",
    "request p99 ms",
    "lag samples",
    "lag p50 ms",
    "lag p99 ms",
    "indexer hist p50 ms",
    "indexer hist p99 ms",
]
TEXT_HEADERS = [
    "backend",
    "resources",
    "bulk load/s",
    "index catch-up s",
    "query",
    "served by",
    "route",
    "p50 ms",
    "p99 ms",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rate", type=float, default=500.0, help="target resource writes/s")
    parser.add_argument(
        "--bundle", type=int, default=1, help="resources per request (>1: transaction bundles)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="steady ingest duration")
    parser.add_argument("--concurrency", type=int, default=64, help="writes in flight at most")
    parser.add_argument("--sample", type=int, default=5, help="measure the lag of every n-th write")
    parser.add_argument(
        "--patients", type=int, default=200, help="bulk-loaded for the text comparison (0: skip)"
    )
    parser.add_argument("--runs", type=int, default=100, help="queries per kind")
    parser.add_argument("--timeline", action="store_true", help="print the lag per second")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    rows: dict[str, list[list[object]]] = {"lag": [], "text": []}
    with database_urls(backends) as urls:
        for backend in backends:
            _run_backend(backend, urls[backend], args, rows)
    print("\n## sync lag (asynchronous mode, acknowledged write -> searchable)\n")
    print(table(LAG_HEADERS, rows["lag"]))
    if rows["text"]:
        print("\n## full text: search service vs primary\n")
        print(table(TEXT_HEADERS, rows["text"]))


if __name__ == "__main__":
    main()
