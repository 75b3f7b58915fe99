"""Search benchmark: a fixed query mix through the gateway, per backend and data size.

    uv run python benchmarks/search.py --sizes 200,2000 --runs 100

For each backend and each size (patients; ~48 resources each) the database is
filled by the bulk loader (``bulkload.py``: transactions through the store
service, index rows exactly as normal writes), analysed, then a fresh
``polyfhir run`` serves the mix: every query runs ``--runs`` times
(sequentially, with values drawn from the data) through the gateway and
p50/p99 latency is printed per query. Sizes grow in one database, so the
table shows how latency scales with the data.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from _common import database_urls, fhir_server, percentile, table
from bulkload import analyze, bulk_load, family_tag, prewarm, templates, workers_for

Sample = dict[str, Any]
Query = Callable[[random.Random, Sample], tuple[str, list[tuple[str, str]]]]


def _facts(tpl: list[bytes], patients: int) -> Sample:
    """Values to draw query parameters from (clone k of template t: identifier ``…-k``)."""
    families, identifiers, codes, words = set(), [], set(), set()
    for t, raw in enumerate(tpl):
        bundle = orjson.loads(raw)
        for entry in bundle["entry"]:
            r = entry["resource"]
            if r["resourceType"] == "Patient":
                family = r["name"][0]["family"]
                families.update(family + family_tag(k) for k in range(t, patients, len(tpl)))
                ident = r["identifier"][0]
                identifiers += [
                    f"{ident['system']}|{ident['value']}" + (f"-{k}" if k >= len(tpl) else "")
                    for k in range(t, patients, len(tpl))
                ]
            elif r["resourceType"] == "Observation":
                coding = r["code"]["coding"][0]
                codes.add(f"{coding['system']}|{coding['code']}")
            elif r["resourceType"] == "Condition":
                text = r["code"].get("text", "")
                words.update(w.lower() for w in text.split() if len(w) > 4 and w.isalpha())
    return {
        "families": sorted(families),
        "identifiers": identifiers,
        "codes": sorted(codes),
        "words": sorted(words) or ["diabetes"],
    }


MIX: dict[str, Query] = {
    "identifier lookup": lambda g, f: (
        "Patient",
        [("identifier", g.choice(f["identifiers"]))],
    ),
    "name prefix": lambda g, f: ("Patient", [("name", g.choice(f["families"])[:3])]),
    "code + date range": lambda g, f: (
        "Observation",
        [("code", g.choice(f["codes"])), ("date", "ge2025-06-01"), ("date", "lt2026-06-01")],
    ),
    "code + date range, _total=estimate": lambda g, f: (
        "Observation",
        [
            ("code", g.choice(f["codes"])),
            ("date", "ge2025-06-01"),
            ("date", "lt2026-06-01"),
            ("_total", "estimate"),
        ],
    ),
    "chain 1 level": lambda g, f: (
        "Observation",
        [("subject:Patient.name", g.choice(f["families"])), ("code", g.choice(f["codes"]))],
    ),
    "chain 2 levels": lambda g, f: (
        "DiagnosticReport",
        [("result.subject:Patient.family", g.choice(f["families"]))],
    ),
    "_has": lambda g, f: (
        "Patient",
        [
            ("_has:Observation:patient:code", g.choice(f["codes"])),
            ("name", g.choice(f["families"])),
        ],
    ),
    "_include": lambda g, f: (
        "MedicationRequest",
        [
            ("subject:Patient.identifier", g.choice(f["identifiers"])),
            ("_include", "MedicationRequest:subject"),
        ],
    ),
    "_revinclude": lambda g, f: (
        "Patient",
        [("identifier", g.choice(f["identifiers"])), ("_revinclude", "Condition:subject")],
    ),
    "_text": lambda g, f: ("Condition", [("_text", g.choice(f["words"]))]),
}


async def _measure(base: str, facts: Sample, runs: int, seed: int) -> dict[str, list[float]]:
    rng = random.Random(seed)
    out: dict[str, list[float]] = {name: [] for name in MIX}
    # strict: a parameter the server would ignore fails the run instead of timing nothing
    strict = {"Prefer": "handling=strict"}
    async with httpx.AsyncClient(base_url=base, timeout=60.0, headers=strict) as client:
        # one untimed request per query first: the latencies are a running server's, not
        # those of the first request after start (connections, registry, statement cache)
        warm = random.Random(seed + 1)
        for make in MIX.values():
            rtype, params = make(warm, facts)
            (await client.get(f"/{rtype}", params=[*params, ("_count", "20")])).raise_for_status()
        for name, make in MIX.items():
            for _ in range(runs):
                rtype, params = make(rng, facts)
                started = time.perf_counter()
                response = await client.get(f"/{rtype}", params=[*params, ("_count", "20")])
                out[name].append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: {response.status_code} {response.text}")
    return out


def yardstick() -> float:
    """Seconds for a fixed pure-Python loop: this machine's speed moves by up to 2x
    from hour to hour (a shared host), so each table says how fast it was."""
    started, total = time.perf_counter(), 0
    for i in range(5_000_000):
        total += i
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,1000", help="patients, growing, comma-separated")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="loader processes (PostgreSQL)")
    parser.add_argument("--concurrency", type=int, default=4, help="transactions per loader")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--pg-memory",
        default="shared_buffers=8GB,effective_cache_size=16GB",
        help="settings of the embedded PostgreSQL, name=value comma-separated: a server"
        " sized for 1M resources (~13 GB; this machine has 24 GB) rather than the 128 MB default;"
        " '' for defaults",
    )
    parser.add_argument(
        "--measure-only",
        metavar="URL",
        help="measure an already loaded database (its last --sizes value = patients loaded)",
    )
    args = parser.parse_args()
    if args.measure_only:
        patients = max(int(s) for s in args.sizes.split(","))
        asyncio.run(prewarm(args.measure_only))
        with fhir_server(args.measure_only) as base:
            latencies = asyncio.run(_measure(base, _facts(templates(), patients), args.runs, 1))
        rows = [
            [n, percentile(v, 50) * 1000, percentile(v, 99) * 1000] for n, v in latencies.items()
        ]
        print(f"yardstick (5M-step Python loop): {yardstick():.2f} s")
        print(table(["query", "p50 ms", "p99 ms"], rows))
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    tpl = templates()
    rows: list[list[object]] = []
    pg_settings = dict(kv.split("=", 1) for kv in args.pg_memory.split(",") if kv)
    with database_urls(backends, pg_settings) as urls:
        for backend in backends:
            loaded = resources = 0
            for size in sizes:
                created, seconds = bulk_load(
                    urls[backend],
                    loaded,
                    size,
                    workers=workers_for(backend, args.workers),
                    concurrency=args.concurrency,
                )
                loaded, resources = size, resources + created
                print(
                    f"{backend}: {resources:,} resources ({created / seconds:,.0f}/s)", flush=True
                )
                asyncio.run(analyze(urls[backend]))
                asyncio.run(prewarm(urls[backend]))
                with fhir_server(urls[backend]) as base:
                    latencies = asyncio.run(_measure(base, _facts(tpl, size), args.runs, size))
                for name, values in latencies.items():
                    rows.append(
                        [
                            backend,
                            f"{resources:,}",
                            name,
                            percentile(values, 50) * 1000,
                            percentile(values, 99) * 1000,
                        ]
                    )
                print(f"yardstick (5M-step Python loop): {yardstick():.2f} s")
                print(
                    table(["backend", "resources", "query", "p50 ms", "p99 ms"], rows), flush=True
                )


if __name__ == "__main__":
    main()
