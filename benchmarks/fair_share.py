"""Fair share: a noisy tenant floods while a quiet tenant runs a steady search mix.

    uv run python benchmarks/fair_share.py --patients 100 --seconds 15 --noisy-clients 16

Per backend (fresh database, ``polyfhir run`` as a child process) both tenants
get the same data (``--patients`` patients with 5 Observations each, written as
transaction bundles). The quiet tenant sends ``--quiet-rate`` searches a second
(open loop: a steady mix of identifier, name, reference, code and `_include`
searches) and its latency is measured in three phases:

1. alone (no limits);
2. under the flood, no limits: ``--noisy-clients`` clients of the noisy tenant
   send searches back to back, a third of them heavy (chains, ``_has``,
   ``_content``);
3. under the same flood with ``POLYFHIR_TENANT_LIMITS`` set (``--limits``): the
   noisy clients honour ``Retry-After`` when they get a 429, as the Bulk Data
   and SMART clients do (``--ignore-retry-after``: they resend at once).

It prints the quiet tenant's p50/p99 per phase, the noisy tenant's throughput
and 429s, and the target: p99 under the flood <= 2x p99 alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import orjson

from _common import database_urls, fhir_server, percentile, table

LOINC = "http://loinc.org"
CODES = ("8867-4", "8480-6", "8462-4", "29463-7", "8310-5")
MRN = "http://bench.example/mrn"
DEFAULT_LIMITS = {"default": {"rate": 40, "burst": 40, "max_heavy": 2, "max_jobs": 1}}
Query = Callable[[random.Random, int], tuple[str, dict[str, str]]]


def _bundle(start: int, stop: int) -> dict[str, object]:
    entries: list[dict[str, object]] = []
    for n in range(start, stop):
        pid = f"p{n}"
        patient = {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [{"system": MRN, "value": f"m{n}"}],
            "name": [{"family": f"Family{n % 50}", "given": [f"Given{n}"]}],
            "text": {"status": "generated", "div": f"<div>patient {n} fever cough</div>"},
        }
        entries.append({"resource": patient, "request": {"method": "PUT", "url": f"Patient/{pid}"}})
        for k, code in enumerate(CODES):
            obs = {
                "resourceType": "Observation",
                "id": f"o{n}-{k}",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": code}], "text": "vital sign"},
                "subject": {"reference": f"Patient/{pid}"},
                "valueQuantity": {"value": 60 + (n + k) % 80, "unit": "1/min"},
            }
            entries.append(
                {"resource": obs, "request": {"method": "PUT", "url": f"Observation/o{n}-{k}"}}
            )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


async def _load(base: str, tenant: str, patients: int) -> None:
    async with httpx.AsyncClient(
        base_url=base, timeout=300.0, headers={"X-Tenant-ID": tenant}
    ) as client:
        for start in range(0, patients, 20):
            response = await client.post(
                "",
                content=orjson.dumps(_bundle(start, min(patients, start + 20))),
                headers={"content-type": "application/fhir+json"},
            )
            if response.status_code != 200:
                raise RuntimeError(f"load failed {response.status_code}: {response.text[:300]}")


QUIET_MIX: tuple[Query, ...] = (
    lambda r, n: ("/Patient", {"identifier": f"{MRN}|m{r.randrange(n)}"}),
    lambda r, n: ("/Patient", {"family": f"Family{r.randrange(50)}"}),
    lambda r, n: ("/Observation", {"subject": f"Patient/p{r.randrange(n)}"}),
    lambda r, n: ("/Observation", {"code": f"{LOINC}|{r.choice(CODES)}", "_count": "20"}),
    lambda r, n: (
        "/Observation",
        {"subject": f"Patient/p{r.randrange(n)}", "_include": "Observation:subject"},
    ),
)
NOISY_MIX: tuple[Query, ...] = (
    lambda r, n: ("/Observation", {"code": f"{LOINC}|{r.choice(CODES)}", "_count": "50"}),
    lambda r, n: ("/Patient", {"family": f"Family{r.randrange(50)}"}),
    lambda r, n: ("/Observation", {"subject:Patient.family": f"Family{r.randrange(50)}"}),
    lambda r, n: ("/Patient", {"_has:Observation:subject:code": f"{LOINC}|{r.choice(CODES)}"}),
    lambda r, n: ("/Patient", {"_content": "fever"}),
    lambda r, n: ("/Observation", {"value-quantity": f"gt{r.randrange(60, 140)}", "_count": "50"}),
)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    throttled: int = 0
    failed: int = 0


async def _quiet(base: str, patients: int, rate: float, seconds: float, tally: Tally) -> None:
    rnd = random.Random(7)
    async with httpx.AsyncClient(
        base_url=base, timeout=60.0, headers={"X-Tenant-ID": "quiet"}
    ) as client:

        async def one(path: str, params: dict[str, str]) -> None:
            started = time.perf_counter()
            response = await client.get(path, params=params)
            tally.latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code == 429:
                tally.throttled += 1
            elif response.status_code != 200:
                tally.failed += 1

        tasks = []
        begin = time.perf_counter()
        for i in range(int(seconds * rate)):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(
                    delay
                )  # open loop: the schedule, not the answers, sets the pace
            tasks.append(asyncio.create_task(one(*rnd.choice(QUIET_MIX)(rnd, patients))))
        await asyncio.gather(*tasks)


async def _noisy(
    base: str, patients: int, clients: int, stop: asyncio.Event, honour: bool, tally: Tally
) -> None:
    async def client_loop(seed: int) -> None:
        rnd = random.Random(seed)
        async with httpx.AsyncClient(
            base_url=base, timeout=60.0, headers={"X-Tenant-ID": "noisy"}
        ) as client:
            while not stop.is_set():
                path, params = rnd.choice(NOISY_MIX)(rnd, patients)
                response = await client.get(path, params=params)
                if response.status_code == 429:
                    tally.throttled += 1
                    if honour:
                        wait = float(response.headers.get("retry-after", "1"))
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), wait)
                elif response.status_code == 200:
                    tally.latencies.append(1.0)
                else:
                    tally.failed += 1

    await asyncio.gather(*(client_loop(s) for s in range(clients)))


async def _phase(base: str, args: argparse.Namespace, flood: bool) -> tuple[Tally, Tally]:
    quiet, noisy, stop = Tally(), Tally(), asyncio.Event()
    flooding = (
        asyncio.create_task(
            _noisy(
                base, args.patients, args.noisy_clients, stop, not args.ignore_retry_after, noisy
            )
        )
        if flood
        else None
    )
    await _quiet(base, args.patients, args.quiet_rate, args.seconds, quiet)
    stop.set()
    if flooding is not None:
        await flooding
    return quiet, noisy


def _row(backend: str, phase: str, quiet: Tally, noisy: Tally, seconds: float) -> list[object]:
    return [
        backend,
        phase,
        len(quiet.latencies),
        percentile(quiet.latencies, 50),
        percentile(quiet.latencies, 99),
        quiet.throttled,
        quiet.failed,
        f"{len(noisy.latencies) / seconds:.0f}" if noisy.latencies or noisy.throttled else "-",
        noisy.throttled or "-",
    ]


def run_backend(backend: str, url: str, args: argparse.Namespace) -> list[list[object]]:
    rows: list[list[object]] = []
    with fhir_server(url) as base:
        asyncio.run(_load(base, "quiet", args.patients))
        asyncio.run(_load(base, "noisy", args.patients))
        quiet, noisy = asyncio.run(_phase(base, args, flood=False))
        rows.append(_row(backend, "alone", quiet, noisy, args.seconds))
        quiet, noisy = asyncio.run(_phase(base, args, flood=True))
        rows.append(_row(backend, "flood, no limits", quiet, noisy, args.seconds))
    with fhir_server(url, {"POLYFHIR_TENANT_LIMITS": args.limits}) as base:
        quiet, noisy = asyncio.run(_phase(base, args, flood=False))
        rows.append(_row(backend, "alone, limits", quiet, noisy, args.seconds))
        quiet, noisy = asyncio.run(_phase(base, args, flood=True))
        rows.append(_row(backend, "flood, limits", quiet, noisy, args.seconds))
    if args.max_in_flight:
        queued = {
            "POLYFHIR_TENANT_LIMITS": args.limits,
            "POLYFHIR_MAX_IN_FLIGHT": args.max_in_flight,
        }
        with fhir_server(url, queued) as base:
            quiet, noisy = asyncio.run(_phase(base, args, flood=False))
            rows.append(_row(backend, "alone, limits + fair queue", quiet, noisy, args.seconds))
            quiet, noisy = asyncio.run(_phase(base, args, flood=True))
            rows.append(_row(backend, "flood, limits + fair queue", quiet, noisy, args.seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=100, help="per tenant (x6 resources)")
    parser.add_argument("--seconds", type=float, default=15.0, help="per phase")
    parser.add_argument("--quiet-rate", type=float, default=10.0, help="quiet searches a second")
    parser.add_argument("--noisy-clients", type=int, default=16)
    parser.add_argument("--ignore-retry-after", action="store_true")
    parser.add_argument("--limits", default=orjson.dumps(DEFAULT_LIMITS).decode())
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--max-in-flight",
        default="4",
        help="POLYFHIR_MAX_IN_FLIGHT of the fair-queue rows ('' leaves them out)",
    )
    args = parser.parse_args()
    backends = args.backends.split(",")
    rows: list[list[object]] = []
    with database_urls(backends) as urls:
        for backend in backends:
            rows += run_backend(backend, urls[backend], args)
    print(
        f"{args.patients} patients x 6 resources per tenant (quiet, noisy); quiet: "
        f"{args.quiet_rate:g} searches/s for {args.seconds:g} s per phase; noisy: "
        f"{args.noisy_clients} clients back to back"
        + (" ignoring Retry-After" if args.ignore_retry_after else " honouring Retry-After")
        + f"; limits {args.limits}"
    )
    print(
        table(
            [
                "backend",
                "phase",
                "quiet requests",
                "quiet p50 ms",
                "quiet p99 ms",
                "quiet 429",
                "quiet errors",
                "noisy ok/s",
                "noisy 429",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
