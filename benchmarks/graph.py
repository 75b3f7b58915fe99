"""Reference traversal: chains of 1-4 levels, nested ``_has`` and ``$everything``, each
through the graph, through the primary alone, and as the router chooses.

Runs the local stack (``LocalStack(graph=True)``: Tansu, osmem, FalkorDB, the
primary-store with its relay, both indexers, the gateway) per backend. The
data is loaded straight into the store service (transactions, outbox rows
included: the relay and both indexers carry every resource), then the
indexers are waited for. Three gateways serve the same queries:

- ``graph``: the stack's own gateway, whose routing rule sends every chain and
  ``_has`` to the graph;
- ``primary``: no secondaries (SQL joins);
- ``router``: the stack's configuration without that rule: the cost model decides.

Data (``--patients P``): an organization tree (roots <- mids <- leaves, ten
children each, ten patients per leaf), per patient ``--observations``
Observations and one DiagnosticReport (code ``panel-(k mod 1000)``) on two of
them, and one patient with ~200 resources for ``$everything``. About
``P * (observations + 2)`` resources: ``--patients 100000`` is 1M.

The queries start once **both** indexers have applied everything (positions, not
counts), so no consumer is still applying while they are measured.
``--batch-size`` sets the composite config's ``sync.batch_size`` (relay and
indexers) for the load.

Not offered: leaving the search-indexer's consumer out. The gateway's automatic
convergence (docs/search-indexer.md) then finds the search index incomplete and
republishes the whole tenant, round after round, into the stream the graph-indexer
consumes too (session 12's 1M run: ~240k republished events on top of the 1M).

    uv run python benchmarks/graph.py --backends sqlite --patients 2000 --runs 50
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from _common import database_urls, percentile, table
from bulkload import entries, workers_for
from polyfhir_core.contracts.graph_index import GRAPH_INDEX
from polyfhir_core.contracts.primary_store import PRIMARY_STORE, BundleKind
from polyfhir_core.contracts.search_index import SEARCH_INDEX
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.local_stack import LocalStack, Service
from polyfhir_engines.processes import free_port
from polyfhir_primary.bootstrap import open_database
from polyfhir_primary.service_layer.store_service import StoreService
from polyfhir_primary.settings import PrimarySettings
from polyfhir_servicekit.contract_client import ServiceClients

TENANT = "default"
BIG = 200  # resources of the $everything patient
PANELS = 1000
QUIET = {"POLYFHIR_LOG_LEVEL": "WARNING", "POLYFHIR_ACCESS_LOG": "false"}


def tree(patients: int) -> tuple[int, int, int]:
    """(roots, mids, leaves): ten patients per leaf, ten children per node."""
    leaves = max(10, patients // 10)
    mids = max(2, leaves // 10)
    return max(2, mids // 10), mids, leaves


def _put(resource: dict[str, Any]) -> dict[str, Any]:
    url = f"{resource['resourceType']}/{resource['id']}"
    return {"resource": resource, "request": {"method": "PUT", "url": url}}


def _transaction(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [_put(r) for r in items]}


def org_bundles(patients: int) -> list[dict[str, Any]]:
    roots, mids, leaves = tree(patients)
    orgs: list[dict[str, Any]] = [
        {"resourceType": "Organization", "id": f"root-{r}", "name": f"Root{r}"}
        for r in range(roots)
    ]
    orgs += [
        {
            "resourceType": "Organization",
            "id": f"mid-{m}",
            "name": f"Mid{m}",
            "partOf": {"reference": f"Organization/root-{m % roots}"},
        }
        for m in range(mids)
    ]
    orgs += [
        {
            "resourceType": "Organization",
            "id": f"leaf-{leaf}",
            "name": f"Leaf{leaf}",
            "partOf": {"reference": f"Organization/mid-{leaf % mids}"},
        }
        for leaf in range(leaves)
    ]
    return [_transaction(orgs[i : i + 100]) for i in range(0, len(orgs), 100)]


def patient_bundle(k: int, leaves: int, observations: int) -> dict[str, Any]:
    """Patient ``p-k`` (family ``Famk``) at leaf ``k mod leaves``, its observations and a
    report on two of them (patient ``big``: ``BIG`` resources)."""
    pid = "big" if k < 0 else f"p-{k}"
    patient = {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": f"Fam{k}"}],
        "managingOrganization": {"reference": f"Organization/leaf-{abs(k) % leaves}"},
    }
    count = BIG - 2 if k < 0 else observations
    obs = [
        {
            "resourceType": "Observation",
            "id": f"o-{pid}-{i}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": f"{1000 + i % 50}-1"}]},
            "subject": {"reference": f"Patient/{pid}"},
        }
        for i in range(count)
    ]
    report = {
        "resourceType": "DiagnosticReport",
        "id": f"dr-{pid}",
        "status": "final",
        "code": {"coding": [{"system": "http://example.org/panels", "code": panel(k)}]},
        "subject": {"reference": f"Patient/{pid}"},
        "result": [{"reference": f"Observation/{o['id']}"} for o in obs[:2]],
    }
    return _transaction([patient, *obs, report])


def panel(k: int) -> str:
    return f"panel-{abs(k) % PANELS}"


async def _load(url: str, bundles: list[dict[str, Any]], concurrency: int) -> int:
    database = await open_database(PrimarySettings(primary_url=url, kafka_bootstrap=""))
    registry = SearchParameterRegistry.default()
    service = StoreService(db=database, indexer=extract_index_values, registry=registry)
    ctx = TenantContext.of(TENANT)
    queue = list(reversed(bundles))
    written = 0

    async def worker() -> None:
        nonlocal written
        while queue:
            answers = await service.process(ctx, BundleKind.TRANSACTION, entries(queue.pop()))
            written += sum(1 for r in answers if r.status in (200, 201))

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await database.close()
    return written


def _load_slice(args: tuple[str, list[int], int, int, int]) -> int:
    url, ks, leaves, observations, concurrency = args
    bundles = [patient_bundle(k, leaves, observations) for k in ks]
    return asyncio.run(_load(url, bundles, concurrency))


def load(url: str, patients: int, observations: int, workers: int) -> tuple[int, float]:
    """Organizations first, then the patients in ``workers`` processes; (resources, s)."""
    started = time.perf_counter()
    created = asyncio.run(_load(url, org_bundles(patients), 2))
    leaves = tree(patients)[2]
    ks = [-1, *range(patients)]
    slices = [(url, ks[w::workers], leaves, observations, 4) for w in range(workers)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        created += sum(pool.map(_load_slice, slices))
    return created, time.perf_counter() - started


async def _indexers_caught_up(stack: LocalStack) -> float:
    """Seconds until both indexers have applied everything the primary committed for the
    tenant: nothing left in the outbox, each indexer's applied positions at the published.

    Not by polling the graph's ``stats`` (this wait before session 12): a count walks
    the tenant's whole graph — at 1M resources 2.4 s for the nodes and 15 s for the
    references in FalkorDB — and holds the graph's lock meanwhile, so the indexer's
    writes queued behind it (13-15 s each in ``GRAPH.SLOWLOG``)."""
    assert stack.graph_indexer is not None
    clients = ServiceClients()
    indexes = [
        clients.connect(GRAPH_INDEX, stack.graph_indexer.url),
        clients.connect(SEARCH_INDEX, stack.indexer.url),
    ]
    store = clients.connect(PRIMARY_STORE, stack.primary.url)
    ctx = TenantContext.of(TENANT)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(3 * 3600):
            while True:
                published = await store.positions(ctx)
                if published.pending > 0:
                    await asyncio.sleep(1.0)  # the relay's backlog: polled, one call a second
                    continue
                waits = [i.wait_positions(ctx, published.partitions, 1_000) for i in indexes]
                if all(await asyncio.gather(*waits)):
                    break
    finally:
        await clients.close()
    return time.perf_counter() - started


Params = Callable[[random.Random], tuple[str, dict[str, str]]]


def queries(patients: int) -> dict[str, Params]:
    roots, mids, leaves = tree(patients)

    def chain(path: str, name: Callable[[random.Random], str]) -> Params:
        return lambda rng: ("Observation", {f"subject:Patient.{path}": name(rng)})

    return {
        "chain 1 level": chain("family:exact", lambda rng: f"Fam{rng.randrange(patients)}"),
        "chain 2 levels": chain(
            "organization.name:exact", lambda rng: f"Leaf{rng.randrange(leaves)}"
        ),
        "chain 3 levels": chain(
            "organization.partof.name:exact", lambda rng: f"Mid{rng.randrange(mids)}"
        ),
        "chain 4 levels": chain(
            "organization.partof.partof.name:exact", lambda rng: f"Root{rng.randrange(roots)}"
        ),
        "nested _has": lambda rng: (
            "Patient",
            {
                "_has:Observation:subject:_has:DiagnosticReport:result:code": (
                    f"http://example.org/panels|{panel(rng.randrange(patients))}"
                )
            },
        ),
        "$everything (~200)": lambda rng: ("Patient/big/$everything", {"_count": "1000"}),
    }


class Tally:
    """One gateway's answers to one query: times, routes seen, matches."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.routes: set[str] = set()
        self.fallbacks: dict[str, int] = {}  # X-Polyfhir-Fallback values and how often
        self.matches = 0


async def _measure(bases: dict[str, str], params: Params, runs: int) -> dict[str, Tally]:
    """``runs`` requests per gateway, interleaved (each random query goes to every gateway in
    turn), so a burst of load on the shared machine hits all three alike."""
    rng = random.Random(15)
    tallies = {mode: Tally() for mode in bases}
    clients = {
        mode: httpx.AsyncClient(base_url=base, timeout=120.0) for mode, base in bases.items()
    }
    try:
        for _ in range(runs):
            path, query = params(rng)
            for mode, client in clients.items():
                started = time.perf_counter()
                answer = await client.get(f"/{path}", params={"_count": "100", **query})
                tallies[mode].times.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path} {query}: {answer.status_code} {answer.text[:300]}")
                tallies[mode].routes.add(answer.headers.get("x-polyfhir-route", ""))
                fallback = answer.headers.get("x-polyfhir-fallback")
                if fallback:
                    tallies[mode].fallbacks[fallback] = tallies[mode].fallbacks.get(fallback, 0) + 1
                tallies[mode].matches += len(answer.json().get("entry", []))
    finally:
        for client in clients.values():
            await client.aclose()
    return tallies


def _gateway(stack: LocalStack, workdir: Path, name: str, config: Path | None) -> Service:
    env = {**QUIET, "POLYFHIR_PRIMARY_STORE_URL": stack.primary.url}
    if config is not None:
        env["POLYFHIR_CONFIG_FILE"] = str(config)
    return Service(name, "polyfhir-gateway", free_port(), env, workdir / "logs")


def _router_config(workdir: Path) -> Path:
    """The stack's composite config without its rule sending walks to the graph."""
    config = orjson.loads((workdir / "composite.json").read_bytes())
    config["routing"] = [r for r in config.get("routing", []) if r["name"] != "walks"]
    path = workdir / "composite-router.json"
    path.write_bytes(orjson.dumps(config))
    return path


def _run_backend(backend: str, url: str, args: argparse.Namespace) -> list[list[object]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"polyfhir-graph-{backend}-"))
    sync = {"mode": "asynchronous", "max_read_lag_ms": 0, "batch_size": args.batch_size}
    rows: list[list[object]] = []
    with LocalStack(workdir, primary_url=url, sync=sync, extra_env=QUIET, graph=True) as stack:
        created, seconds = load(url, args.patients, args.observations, workers_for(backend, 2))
        caught_up = asyncio.run(_indexers_caught_up(stack))
        print(f"{backend}: {created:,} resources in {seconds:.0f} s, indexers +{caught_up:.0f} s")
        gateways = {
            "router": _gateway(stack, workdir, "gateway-router", _router_config(workdir)),
            "primary": _gateway(stack, workdir, "gateway-primary", None),
        }
        for gateway in gateways.values():
            gateway.start()
        bases = {
            "graph": stack.base_url,  # the stack's rule: chains and _has on the graph
            "primary": f"{gateways['primary'].url}/fhir",
            "router": f"{gateways['router'].url}/fhir",
        }
        try:
            for query, params in queries(args.patients).items():
                asyncio.run(_measure(bases, params, 3))  # warm-up
                for mode, tally in asyncio.run(_measure(bases, params, args.runs)).items():
                    rows.append(
                        [
                            backend,
                            f"{created:,}",
                            query,
                            mode,
                            ";".join(sorted(tally.routes)),
                            tally.matches // args.runs,
                            percentile(tally.times, 50) * 1000,
                            percentile(tally.times, 99) * 1000,
                            _fallbacks(tally),
                        ]
                    )
                print(table(HEADERS, rows[-3:]), flush=True)
        finally:
            for gateway in gateways.values():
                gateway.stop()
    return rows


HEADERS = [
    "backend",
    "resources",
    "query",
    "through",
    "route",
    "entries",
    "p50 ms",
    "p99 ms",
    "fallbacks",
]


def _fallbacks(tally: Tally) -> str:
    """Why requests fell back to the primary (``graph=timeout x3``), or empty."""
    return "; ".join(f"{reason} x{n}" for reason, n in sorted(tally.fallbacks.items()))


def verdicts(rows: list[list[object]]) -> list[list[object]]:
    """Per query: the router's p50 against the better of graph and primary alone."""
    out: list[list[object]] = []
    by_query: dict[tuple[object, object], dict[object, float]] = {}
    for row in rows:
        p50 = row[6]
        assert isinstance(p50, float)
        by_query.setdefault((row[0], row[2]), {})[row[3]] = p50
    for (backend, query), p50 in by_query.items():
        best = min(p50["graph"], p50["primary"])
        out.append(
            [
                backend,
                query,
                p50["primary"] / p50["graph"],
                p50["router"] / best,
                "yes" if p50["router"] <= 1.1 * best else "no",
                "yes" if p50["router"] <= 1.2 * best else "no",
            ]
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--observations", type=int, default=8, help="per patient")
    parser.add_argument("--runs", type=int, default=50, help="requests per query and gateway")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="sync.batch_size: change events per relay and indexer batch while loading",
    )
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    rows: list[list[object]] = []
    with database_urls(backends) as urls:
        for backend in backends:
            rows += _run_backend(backend, urls[backend], args)
    print("\n## reference traversal: graph vs primary vs the router's choice\n")
    print(table(HEADERS, rows))
    print("\n## the router against the better of the two (p50)\n")
    print(
        table(
            [
                "backend",
                "query",
                "primary / graph",
                "router / best",
                "within 10 %",
                "within 20 %",
            ],
            verdicts(rows),
        )
    )


if __name__ == "__main__":
    main()
