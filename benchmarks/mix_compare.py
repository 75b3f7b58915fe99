"""Two (or more) trees side by side on issue 18's mix, interleaved, CPU per query.

    python benchmarks/mix_compare.py --server old=/tmp/mix-old/.venv/bin \\
        --server new=.venv/bin --rounds 2 --seconds 10 --per-query

On a shared, loaded machine figures taken at different times cannot be compared:
this runs the servers in turn (round 1: old, new; round 2: old, new; per backend),
each ``polyfhir run`` (``--topology services``: primary-store + gateway) from its own
venv's ``bin`` over a fresh database loaded the
same way as ``mix.py`` does, and reports per server and round:

- the search mix (and ``--crud``: the CRUD mix) at each ``--clients`` count;
- ``--per-query``: every query of the search mix alone at 1 client for
  ``--seconds``, so the server's (and PostgreSQL's) CPU ms per request is that
  query's own, beside its p50.

CPU is psutil's user + system of each process tree before/after a phase, as in
``mix.py``; the 1-minute load average is recorded at the end of every phase.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psutil

from _common import percentile, table
from _topology import Deployment, database, deployment
from bulkload import TEMPLATES, templates
from mix import SEARCH_MIX, Phase, crud_mix, facts_of, ingest, search_mix, warm


@dataclass
class Measured:
    round: int
    backend: str
    server: str
    phase: str  # "search mix", "crud" or one query of the search mix
    clients: int
    result: Phase
    load: float  # 1-minute load average at the end of the phase


def _cpu(phase: Phase) -> tuple[float, float]:
    """CPU ms per request: the server's (every role but client and database), the database's."""
    per = phase.cpu_ms_per_request()
    server = sum(v for role, v in per.items() if role not in ("client", "database"))
    return server, per.get("database", float("nan"))


async def _phases(
    dep: Deployment, args: argparse.Namespace, bundles: list[bytes]
) -> list[tuple[str, int, Phase, float]]:
    """Load the data, then every phase asked for: (phase, clients, result, load)."""
    facts = facts_of(bundles)
    headers = {} if args.gzip else {"Accept-Encoding": "identity"}
    _, patients = await ingest(dep, bundles, 4)
    await warm(dep, facts, patients)
    out: list[tuple[str, int, Phase, float]] = []

    def record(name: str, clients: int, result: Phase) -> None:
        out.append((name, clients, result, psutil.getloadavg()[0]))

    for clients in args.clients:
        record("search mix", clients, await search_mix(dep, facts, clients, args.seconds, headers))
    if args.per_query:
        for kind in SEARCH_MIX:
            record(kind, 1, await search_mix(dep, facts, 1, args.seconds, headers, [kind]))
    if args.crud:
        for clients in args.clients:
            record("crud", clients, await crud_mix(dep, patients, clients, args.seconds, headers))
    return out


def _run(args: argparse.Namespace, servers: dict[str, Path]) -> list[Measured]:
    bundles = templates(max(args.patients, TEMPLATES))[: args.patients]
    measured: list[Measured] = []
    for n in range(1, args.rounds + 1):
        for backend in args.backends:
            for label, bin_dir in servers.items():
                with database(backend) as db, deployment(args.topology, db, {}, bin_dir) as dep:
                    phases = asyncio.run(_phases(dep, args, bundles))
                done = [Measured(n, backend, label, *phase) for phase in phases]
                measured += done
                # as it comes, so a run cut short keeps what it measured
                print(f"round {n} {backend} {label}:\n{_report(done)}\n", flush=True)
    return measured


def _report(measured: list[Measured]) -> str:
    """One row per backend, phase, clients and server; the rounds side by side (a / b)."""
    grouped: dict[tuple[str, str, int, str], list[Measured]] = defaultdict(list)
    for m in measured:
        grouped[(m.backend, m.phase, m.clients, m.server)].append(m)

    def joined(values: list[float]) -> str:
        return " / ".join(f"{v:.1f}" if v >= 10 else f"{v:.2f}" for v in values)

    rows = []
    for (backend, phase, clients, server), ms in grouped.items():
        all_p50 = [percentile([x for v in m.result.latencies.values() for x in v], 50) for m in ms]
        cpus = [_cpu(m.result) for m in ms]
        rows.append(
            [
                backend,
                phase,
                clients,
                server,
                joined([m.result.requests / m.result.seconds for m in ms]),
                joined([1000 * p for p in all_p50]),
                joined([c[0] for c in cpus]),
                joined([c[1] for c in cpus]) if backend != "sqlite" else "",
                joined([m.load for m in ms]),
            ]
        )
    headers = ["backend", "phase", "clients", "server", "req/s", "p50 ms"]
    headers += ["server CPU ms/req", "database CPU ms/req", "load (1 min)"]
    return table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server",
        action="append",
        required=True,
        metavar="LABEL=BIN_DIR",
        help="a tree to run: its label and the venv bin directory holding `polyfhir`",
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--topology",
        choices=["run", "services"],
        default="run",
        help="`polyfhir run`, or primary-store + gateway (server CPU: both processes)",
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--clients", default="1", help="clients of the search (and CRUD) mix")
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    parser.add_argument("--per-query", action="store_true", help="each query alone, 1 client")
    parser.add_argument("--crud", action="store_true", help="the CRUD mix too")
    parser.add_argument("--gzip", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    servers = {}
    for spec in args.server:
        label, _, path = spec.partition("=")
        servers[label] = Path(path).resolve()
    measured = _run(args, servers)
    print(f"\ngzip: {args.gzip}; rounds side by side (round 1 / round 2 ...)")
    print(_report(measured))


if __name__ == "__main__":
    main()
