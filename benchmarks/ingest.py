"""Ingest benchmark: synthetic patients through the HTTP API, per backend.

    uv run python benchmarks/ingest.py --patients 200 --concurrency 8

For each backend (SQLite file, PostgreSQL embedded or ``POLYFHIR_TEST_PG_DSN``)
a fresh ``polyfhir run`` loads carebundle transaction bundles (~50 resources
per patient; shared practitioners as conditional creates), then measures
single-resource create and read latency at a fixed concurrency. Bundle
generation is excluded from the timings. Also reports the share of write time
spent on search-index extraction (FHIRPath), measured in-process on the same
resources.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx

from _common import count, database_urls, fhir_server, load_bundles, percentile, table
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_testing.datasets import patient_bundles


async def _latencies(base: str, samples: int, concurrency: int) -> tuple[list[float], list[float]]:
    gate = asyncio.Semaphore(concurrency)
    creates: list[float] = []
    reads: list[float] = []
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:

        async def create(i: int) -> None:
            body = {"resourceType": "Patient", "name": [{"family": f"Bench{i}"}], "gender": "other"}
            async with gate:
                t = time.perf_counter()
                response = await client.post("/Patient", json=body)
                creates.append(time.perf_counter() - t)
            if response.status_code != 201:
                raise RuntimeError(f"create failed {response.status_code}: {response.text}")
            ids.append(response.json()["id"])

        async def read(rid: str) -> None:
            async with gate:
                t = time.perf_counter()
                response = await client.get(f"/Patient/{rid}")
                reads.append(time.perf_counter() - t)
            if response.status_code != 200:
                raise RuntimeError(f"read failed {response.status_code}: {response.text}")

        await asyncio.gather(*(create(i) for i in range(samples)))
        await asyncio.gather(*(read(rid) for rid in ids))
    return creates, reads


def _extraction_seconds(bundles: list[dict[str, Any]]) -> float:
    registry = SearchParameterRegistry.default()
    resources = [e["resource"] for b in bundles for e in b["entry"]]
    started = time.perf_counter()
    for resource in resources:
        extract_index_values(resource, registry)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--samples", type=int, default=500, help="creates/reads for latency")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    bundles = list(patient_bundles(args.patients))
    resources = sum(len(b["entry"]) for b in bundles)
    extraction = _extraction_seconds(bundles)
    rows = []
    with database_urls(backends) as urls:
        for backend in backends:
            with fhir_server(urls[backend]) as base:
                seconds = asyncio.run(load_bundles(base, bundles, args.concurrency))
                practitioners = count(base, "Practitioner")
                creates, reads = asyncio.run(_latencies(base, args.samples, args.concurrency))
            rows.append(
                [
                    backend,
                    args.patients,
                    resources,
                    args.concurrency,
                    practitioners,
                    round(seconds, 1),
                    resources / seconds,
                    f"{100 * extraction / seconds:.0f}%",
                    percentile(creates, 50) * 1000,
                    percentile(creates, 99) * 1000,
                    percentile(reads, 50) * 1000,
                    percentile(reads, 99) * 1000,
                ]
            )
    print(
        table(
            [
                "backend",
                "patients",
                "resources",
                "concurrency",
                "practitioners",
                "load s",
                "resources/s",
                "index extraction share",
                "create p50 ms",
                "create p99 ms",
                "read p50 ms",
                "read p99 ms",
            ],
            rows,
        )
    )
    print(
        f"\n{len(bundles)} transaction bundles; index extraction alone: "
        f"{extraction:.2f}s for {resources} resources ({resources / extraction:,.0f}/s); "
        f"latency: {args.samples} creates then {args.samples} reads at concurrency "
        f"{args.concurrency}."
    )


if __name__ == "__main__":
    main()
