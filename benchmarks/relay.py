"""Outbox relay benchmark: ingest through the gateway with the relay off and on, per backend.

    uv run python benchmarks/relay.py                     # 2,000 resources per run
    uv run python benchmarks/relay.py --resources 20000   # more

For each backend (SQLite file, PostgreSQL embedded or ``POLYFHIR_TEST_PG_DSN``)
and each mode, a fresh database and ``polyfhir run``; with the relay on, also a
fresh Tansu broker (``POLYFHIR_KAFKA_BOOTSTRAP``). Patients are posted as
transaction bundles at a fixed concurrency. Reported: ingest throughput, and
with the relay on the time from the last acknowledged write until the outbox is
drained, events published, and the commit -> broker-ack latency (p50/p99 from
the ``polyfhir_outbox_publish_latency_seconds`` histogram).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx

from _common import bucket_quantile_ms, database_urls, fhir_server, load_bundles, scrape, table
from polyfhir_engines.tansu import LocalKafka


def _bundles(resources: int, per_bundle: int) -> list[dict[str, Any]]:
    out = []
    for start in range(0, resources, per_bundle):
        entries = [
            {
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"family": f"Relay{i}", "given": ["Bench"]}],
                    "gender": "other",
                    "birthDate": "1970-01-01",
                },
                "request": {"method": "POST", "url": "Patient"},
            }
            for i in range(start, min(resources, start + per_bundle))
        ]
        out.append({"resourceType": "Bundle", "type": "transaction", "entry": entries})
    return out


def _scrape(base: str) -> dict[str, float]:
    return scrape(base.removesuffix("/fhir"))


def _quantile_ms(before: dict[str, float], after: dict[str, float], q: float) -> str:
    return bucket_quantile_ms(before, after, "polyfhir_outbox_publish_latency_seconds", q)


async def _trickle(base: str, count: int) -> None:
    """``count`` single creates, one after another (the relay is idle between them)."""
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:
        for i in range(count):
            body = {"resourceType": "Patient", "name": [{"family": f"Trickle{i}"}]}
            response = await client.post("/Patient", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"create failed {response.status_code}: {response.text}")


def _drain_seconds(base: str, expected: int, timeout: float = 600.0) -> float:
    """Seconds until every write is published (backlog 0, ``expected`` events acknowledged)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        m = _scrape(base)
        published = m.get("polyfhir_outbox_events_published_total", 0.0)
        if m.get("polyfhir_outbox_backlog", 1.0) == 0 and published >= expected:
            return time.perf_counter() - started
        time.sleep(0.02)
    raise RuntimeError(f"the outbox did not drain within {timeout}s")


def _run(
    url: str, relay: bool, bundles: list[dict[str, Any]], args: argparse.Namespace
) -> list[Any]:
    broker = LocalKafka().start() if relay else None
    env = {"POLYFHIR_KAFKA_BOOTSTRAP": broker.bootstrap if broker else ""}
    try:
        with fhir_server(url, env) as base:
            seconds = asyncio.run(load_bundles(base, bundles, args.concurrency))
            rate = args.resources / seconds
            if broker is None:
                return ["off", round(seconds, 2), rate, "-", "-", "-", "-", "-", "-"]
            drain = _drain_seconds(base, args.resources)
            loaded = _scrape(base)
            asyncio.run(_trickle(base, args.trickle))
            _drain_seconds(base, args.resources + args.trickle)
            idle = _scrape(base)
            return [
                "on",
                round(seconds, 2),
                rate,
                round(drain, 2),
                int(idle.get("polyfhir_outbox_events_published_total", 0)),
                _quantile_ms({}, loaded, 0.5),
                _quantile_ms({}, loaded, 0.99),
                _quantile_ms(loaded, idle, 0.5),
                _quantile_ms(loaded, idle, 0.99),
            ]
    finally:
        if broker is not None:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=2000)
    parser.add_argument("--per-bundle", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--trickle", type=int, default=200, help="sequential creates after")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    bundles = _bundles(args.resources, args.per_bundle)
    rows = []
    for relay in (False, True):
        with database_urls(backends) as urls:  # a fresh database per run
            for backend in backends:
                run = _run(urls[backend], relay, bundles, args)
                rows.append([backend, *run])
    rows.sort(key=lambda row: (backends.index(row[0]), row[1]))
    print(
        table(
            [
                "backend",
                "relay",
                "load s",
                "resources/s",
                "drain after load s",
                "events published",
                "load: commit→ack p50 ms",
                "p99 ms",
                "trickle: commit→ack p50 ms",
                "p99 ms",
            ],
            rows,
        )
    )
    print(
        f"\n{args.resources} Patient creates in transaction bundles of {args.per_bundle} at "
        f"concurrency {args.concurrency}; relay on = a local Tansu broker, 3 partitions, "
        f"acks=all. Then {args.trickle} single creates one after another (trickle). Latencies"
        " are upper bucket edges of polyfhir_outbox_publish_latency_seconds."
    )


if __name__ == "__main__":
    main()
