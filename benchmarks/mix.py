"""Side-by-side benchmark of issue #18: ingest, the CRUD mix and the search mix.

    uv run python benchmarks/mix.py --patients 200 --clients 1,8 --seconds 15
    uv run python benchmarks/mix.py --topologies run,services   # the two-process cost too

Per backend (SQLite file, embedded PostgreSQL) and topology (``run``: ``polyfhir
run``; ``services``: primary-store + gateway), on a fresh database:

1. ingest: the carebundle patients (``bulkload.templates``: ~45 resources each,
   200 patients ≈ 9,100 resources) POSTed as transaction bundles by 4 clients;
2. the search mix of the issue, ``_count=20``, values drawn from the data, at
   each client count for ``--seconds`` (every client runs the queries round robin);
3. the CRUD mix (create, read, update, search by id at even shares), likewise.

Each phase reports requests/s, p50/p99, the response bytes per request as they
crossed the socket (gzip-compressed when ``--gzip`` asks for it: run once with and
once with ``--no-gzip`` to see what compression saves and costs) and the CPU
milliseconds per request of each process tree (psutil, before/after: the server
or gateway and store with their workers, the PostgreSQL postmaster with its
backends, this client), beside
Medplum 5.0.10's figures from the issue measured on this machine, and the
1-minute load average at its end. ``--per-query`` adds every query of the search
mix alone at 1 client, so each query's CPU per request is its own. Every loop is
bounded by time; the servers stop with the script.

``--preload N`` starts from a large database instead of an empty one (``_preload.py``:
N cloned carebundle patients straight into the store, ~45 resources each, so
``--preload 22000`` is ~1M resources) and the phases run on top of it:

    uv run python benchmarks/mix.py --preload 22000 --backends postgresql --per-query \
        --pg-memory shared_buffers=4GB,effective_cache_size=12GB

``--default-total estimate`` runs the servers with ``POLYFHIR_DEFAULT_TOTAL=estimate``
(SQLite counts every match by default: docs/search.md, ``_total``).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import psutil

from _common import percentile, table
from _preload import ingest_bundles, loaded_families, patient_sample, preload
from _topology import Database, Deployment, cpu_seconds, database, deployment
from bulkload import TEMPLATES, templates

# Medplum 5.0.10 on PostgreSQL 15, this machine, medians of two rounds (issue #18)
MEDPLUM = {
    ("ingest", 4): 119.0,
    ("crud", 8): 351.0,
    ("search", 8): 161.0,
    ("search", 1): 108.0,
}
MEDPLUM_P50_MS = {"search mix": 6.9, "chain": 9.3, "_has": 8.1, "code + date": 5.7}
# issue #18: every query of the mix at 1 client at most half of Medplum's p50
TARGET_P50_MS = {"chain": 4.7, "_has": 4.0, "code + date": 2.9}

Facts = dict[str, list[str]]
Request = tuple[str, str, dict[str, Any] | None]  # method, path with query, JSON body


def facts_of(bundles: list[bytes]) -> Facts:
    """Values to draw the queries from, as often as the data holds them."""
    families, codes, words = [], [], set()
    for raw in bundles:
        for entry in orjson.loads(raw)["entry"]:
            r = entry["resource"]
            if r["resourceType"] == "Patient":
                families.append(r["name"][0]["family"])
            elif r["resourceType"] == "Observation":
                coding = r["code"]["coding"][0]
                codes.append(f"{coding['system']}|{coding['code']}")
            elif r["resourceType"] == "Condition":
                text = r["code"].get("text", "")
                words.update(w.lower() for w in text.split() if len(w) > 4 and w.isalpha())
    return {"families": families, "codes": codes, "words": sorted(words) or ["diabetes"]}


def _q(path: str, **params: str) -> str:
    from urllib.parse import urlencode

    return f"{path}?{urlencode({**params, '_count': '20'})}"


SEARCH_MIX: dict[str, Callable[[random.Random, Facts], str]] = {
    "gender": lambda g, f: _q("Patient", gender=g.choice(["female", "male"])),
    "name prefix": lambda g, f: _q("Patient", name=g.choice(f["families"])[:3]),
    "code": lambda g, f: _q("Observation", code=g.choice(f["codes"])),
    "code + date": lambda g, f: _q("Observation", code=g.choice(f["codes"]), date="ge2025-01-01"),
    "chain": lambda g, f: _q(
        "Observation", **{"patient.gender": g.choice(["female", "male"])}, code=g.choice(f["codes"])
    ),
    "_has": lambda g, f: _q("Patient", **{"_has:Observation:patient:code": g.choice(f["codes"])}),
    "_include": lambda g, f: _q(
        "Observation", code=g.choice(f["codes"]), _include="Observation:patient"
    ),
    ":text": lambda g, f: _q("Condition", **{"code:text": g.choice(f["words"])}),
}


@dataclass
class Phase:
    """What one phase measured: latencies per request kind, wall time, CPU per role."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    units: int = 0  # requests (or resources, for ingest)
    wire_bytes: int = 0  # response bodies as they crossed the socket (gzip or not)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def cpu_ms_per_request(self) -> dict[str, float]:
        return {role: 1000 * s / max(1, self.requests) for role, s in self.cpu.items()}


async def _send(
    session: aiohttp.ClientSession, base: str, request: Request, phase: Phase | None = None
) -> dict[str, Any]:
    """One request; the body is read as sent (the session does not inflate it) so
    that ``phase`` counts the bytes on the wire, then inflated here as a client would."""
    method, path, body = request
    data = orjson.dumps(body) if body is not None else None
    headers = {"Content-Type": "application/fhir+json"} if body is not None else None
    async with session.request(method, f"{base}/{path}", data=data, headers=headers) as response:
        payload = await response.read()
        if phase is not None:
            phase.wire_bytes += len(payload)
        encoding = response.headers.get("Content-Encoding", "identity")
        if encoding == "gzip":
            payload = gzip.decompress(payload)
        elif encoding != "identity":
            raise RuntimeError(f"{method} {path}: unexpected Content-Encoding {encoding}")
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
        return orjson.loads(payload) if payload else {}


Worker = Callable[[aiohttp.ClientSession, Phase, float], Awaitable[None]]


async def _measured(
    dep: Deployment, clients: int, workers: list[Worker], headers: dict[str, str]
) -> Phase:
    phase = Phase()
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    session = aiohttp.ClientSession(connector=connector, headers=headers, auto_decompress=False)
    async with session:
        before = cpu_seconds(dep.roles)
        started = time.perf_counter()
        await asyncio.gather(*(w(session, phase, started) for w in workers))
        phase.seconds = time.perf_counter() - started
        after = cpu_seconds(dep.roles)
    phase.cpu = {role: after[role] - before[role] for role in before}
    return phase


def _timed(kind: str, phase: Phase, started: float) -> Callable[[], None]:
    def done() -> None:
        phase.latencies.setdefault(kind, []).append(time.perf_counter() - started)

    return done


async def ingest(dep: Deployment, bundles: list[bytes], clients: int) -> tuple[Phase, list[str]]:
    """POST every bundle as a transaction; the Patient ids the server assigned."""
    queue = iter(bundles)
    patients: list[str] = []

    async def worker(session: aiohttp.ClientSession, phase: Phase, _: float) -> None:
        for raw in queue:
            bundle = orjson.loads(raw)
            started = time.perf_counter()
            reply = await _send(session, dep.base, ("POST", "", bundle), phase)
            _timed("transaction", phase, started)()
            phase.units += len(bundle["entry"])
            patients.extend(
                e["response"]["location"].split("/")[1]
                for e in reply["entry"]
                if e["response"]["location"].startswith("Patient/")
            )

    phase = await _measured(dep, clients, [worker] * clients, {})
    return phase, patients


async def search_mix(
    dep: Deployment,
    facts: Facts,
    clients: int,
    seconds: float,
    headers: dict[str, str],
    kinds: list[str] | None = None,
) -> Phase:
    """The search mix (or only ``kinds`` of it) round robin for ``seconds``."""
    chosen = [(k, SEARCH_MIX[k]) for k in kinds or SEARCH_MIX]

    async def worker(session: aiohttp.ClientSession, phase: Phase, t0: float) -> None:
        rng = random.Random()  # every client its own draws
        cycle = itertools.cycle(chosen)
        while time.perf_counter() - t0 < seconds:
            kind, make = next(cycle)
            started = time.perf_counter()
            await _send(session, dep.base, ("GET", make(rng, facts), None), phase)
            _timed(kind, phase, started)()

    return await _measured(dep, clients, [worker] * clients, headers)


def _patient(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": f"Mixcrud{n}", "given": ["Bench"]}],
        "gender": "other",
        "birthDate": "1970-01-01",
    }


async def crud_mix(
    dep: Deployment, patients: list[str], clients: int, seconds: float, headers: dict[str, str]
) -> Phase:
    """create, read, update, search by id in turn; updates touch only the client's own
    creations (the loaded data stays as the search mix saw it)."""

    async def worker(session: aiohttp.ClientSession, phase: Phase, t0: float) -> None:
        rng, mine = random.Random(), []
        for n in itertools.count():
            if time.perf_counter() - t0 >= seconds:
                return
            started = time.perf_counter()
            kind = ("create", "read", "update", "search by id")[n % 4]
            if kind == "create":
                created = await _send(session, dep.base, ("POST", "Patient", _patient(n)), phase)
                mine.append(created["id"])
            elif kind == "read":
                read = ("GET", f"Patient/{rng.choice(patients)}", None)
                await _send(session, dep.base, read, phase)
            elif kind == "update":
                rid = rng.choice(mine)
                body = {**_patient(n), "id": rid}
                await _send(session, dep.base, ("PUT", f"Patient/{rid}", body), phase)
            else:
                path = f"Patient?_id={rng.choice(patients)}"
                await _send(session, dep.base, ("GET", path, None), phase)
            _timed(kind, phase, started)()

    return await _measured(dep, clients, [worker] * clients, headers)


async def warm(dep: Deployment, facts: Facts, patients: list[str]) -> None:
    """Every request kind once, untimed: a running server, not its first requests."""
    rng = random.Random(0)
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        for make in SEARCH_MIX.values():
            await _send(session, dep.base, ("GET", make(rng, facts), None))
        await _send(session, dep.base, ("GET", f"Patient/{patients[0]}", None))


def _load_now() -> str:
    return " / ".join(f"{x:.1f}" for x in psutil.getloadavg())


@dataclass
class Row:
    label: str
    phase: str  # ingest, search, crud, or one query of the search mix alone
    clients: int
    result: Phase
    load: str = field(default_factory=_load_now)  # 1/5/15-min load average at its end


def _summary(rows: list[Row], roles: list[str]) -> str:
    out = []
    for row in rows:
        r = row.result
        rate = (r.units or r.requests) / r.seconds
        all_latencies = [x for v in r.latencies.values() for x in v]
        yard = MEDPLUM.get((row.phase, row.clients))
        cpu = r.cpu_ms_per_request()
        out.append(
            [
                row.label,
                row.phase,
                row.clients,
                rate,
                percentile(all_latencies, 50) * 1000,
                percentile(all_latencies, 99) * 1000,
                yard if yard is not None else "",
                f"{rate / yard:.1f}x" if yard else "",
                f"{r.wire_bytes / max(1, r.requests) / 1024:.2f}",
                *(f"{cpu[role]:.2f}" if role in cpu else "" for role in roles),
                row.load,
            ]
        )
    headers = ["server", "phase", "clients", "rate /s", "p50 ms", "p99 ms", "Medplum", "x Medplum"]
    headers.append("KiB/req received")
    cpu_headers = [f"{role} CPU ms/req" for role in roles]
    return table([*headers, *cpu_headers, "load 1/5/15 min"], out)


def _per_query(rows: list[Row]) -> str:
    out = []
    for row in rows:
        if row.phase == "ingest":
            continue
        alone = "alone" if row.phase in SEARCH_MIX else row.phase
        for kind, values in row.result.latencies.items():
            one = row.clients == 1
            out.append(
                [
                    row.label,
                    row.clients,
                    f"{kind} ({alone})",
                    len(values),
                    percentile(values, 50) * 1000,
                    percentile(values, 99) * 1000,
                    MEDPLUM_P50_MS.get(kind, "") if one else "",
                    TARGET_P50_MS.get(kind, "") if one else "",
                    row.load,
                ]
            )
    headers = ["server", "clients", "request (phase)", "n", "p50 ms", "p99 ms", "Medplum p50"]
    return table([*headers, "target p50", "load 1/5/15 min"], out)


async def _run_one(
    dep: Deployment, label: str, args: argparse.Namespace, bundles: list[bytes]
) -> list[Row]:
    facts = facts_of(bundles)
    headers = {} if args.gzip else {"Accept-Encoding": "identity"}
    rows = []
    result, patients = await ingest(dep, bundles, args.ingest_clients)
    rows.append(Row(label, "ingest", args.ingest_clients, result))
    print(f"{label}: ingest {result.units / result.seconds:,.0f} resources/s", flush=True)
    if args.preload:  # the queries draw from everything loaded, not only the ingest's
        facts["families"] += loaded_families(args.preload)
        patients += await patient_sample(dep.base)
    await warm(dep, facts, patients)
    for clients in args.clients:
        result = await search_mix(dep, facts, clients, args.seconds, headers)
        rows.append(Row(label, "search", clients, result))
        print(f"{label}: search x{clients} {result.requests / result.seconds:,.0f}/s", flush=True)
    if args.per_query:
        for kind in SEARCH_MIX:
            result = await search_mix(dep, facts, 1, args.seconds, headers, [kind])
            rows.append(Row(label, kind, 1, result))
            print(f"{label}: {kind} alone {result.requests / result.seconds:,.0f}/s", flush=True)
    for clients in args.clients:
        result = await crud_mix(dep, patients, clients, args.seconds, headers)
        rows.append(Row(label, "crud", clients, result))
        print(f"{label}: crud x{clients} {result.requests / result.seconds:,.0f}/s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200, help="carebundle patients to load")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--topologies", default="run", help="run and/or services")
    parser.add_argument("--clients", default="1,8", help="concurrent clients, comma-separated")
    parser.add_argument("--ingest-clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0, help="per search/CRUD phase")
    parser.add_argument("--workers", type=int, default=1, help="POLYFHIR_WORKERS of the servers")
    parser.add_argument(
        "--gzip",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ask for gzip (Accept-Encoding) in the search and CRUD phases",
    )
    parser.add_argument("--per-query", action="store_true", help="each query alone, 1 client")
    parser.add_argument(
        "--preload",
        type=int,
        default=0,
        help="carebundle patients loaded straight into the store before the server starts"
        " (~45 resources each: 22000 is ~1M); the phases run on top",
    )
    parser.add_argument(
        "--database-url",
        help="an already loaded database instead of a fresh one (with --preload N: the N"
        " patients bulkload.py put into it; one backend; a PostgreSQL server's CPU is not"
        " counted); the phases write into it",
    )
    parser.add_argument(
        "--database-pid",
        type=int,
        help="the postmaster of the server at --database-url, whose CPU (with its"
        " backends') is then counted as the database's",
    )
    parser.add_argument(
        "--load-workers", type=int, default=2, help="--preload processes (PostgreSQL)"
    )
    parser.add_argument(
        "--default-total",
        choices=["none", "estimate", "accurate"],
        help="POLYFHIR_DEFAULT_TOTAL of the servers: Bundle.total when a search sends no"
        " _total (unset: the engine's default, estimate on PostgreSQL, accurate on SQLite)",
    )
    parser.add_argument(
        "--pg-memory",
        default="",
        help="settings of the embedded PostgreSQL, name=value comma-separated (at 1M:"
        " shared_buffers=4GB,effective_cache_size=12GB); '' for its defaults",
    )
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    if args.preload:
        bundles = ingest_bundles(args.preload, args.patients)
    else:
        bundles = templates(max(args.patients, TEMPLATES))[: args.patients]
    pg_settings = dict(kv.split("=", 1) for kv in args.pg_memory.split(",") if kv)
    env = {"POLYFHIR_WORKERS": str(args.workers)}
    if args.default_total:
        env["POLYFHIR_DEFAULT_TOTAL"] = args.default_total
    rows: list[Row] = []
    roles: list[str] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for topology in [t.strip() for t in args.topologies.split(",") if t.strip()]:
            label = f"{backend} {topology}" + (f" w{args.workers}" if args.workers > 1 else "")
            label += f" total={args.default_total}" if args.default_total else ""
            given = args.database_url
            with (
                nullcontext(Database(given, args.database_pid))
                if given
                else database(backend, pg_settings) as db
            ):
                if args.preload and not given:
                    preload(db.url, backend, args.preload, args.load_workers)
                with deployment(topology, db, env) as dep:
                    rows += asyncio.run(_run_one(dep, label, args, bundles))
                    roles += [r for r in dep.roles if r not in roles]
    load = " / ".join(f"{x:.2f}" for x in psutil.getloadavg())
    print(f"\nload average at the end (1/5/15 min): {load}; gzip: {args.gzip}")
    print(_summary(rows, roles))
    print()
    print(_per_query(rows))


if __name__ == "__main__":
    main()
