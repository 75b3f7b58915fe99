"""Terminology benchmark: ICD-10-CM loaded end to end, then the operations at size.

    uv run python benchmarks/terminology.py --backends sqlite,postgresql --observations 10000
    uv run python benchmarks/terminology.py --base-url http://127.0.0.1:8080/fhir  # make run-stack

Per engine (a fresh database each; or one running server with ``--base-url``):

1. ``--observations`` Observations coded with random ICD-10-CM codes are written
   (local engines: straight into the primary through the store service in
   transactions of 500, outbox rows included, before the services start, as
   ``search.py``/``secondary.py`` do; ``--base-url``: transaction bundles over HTTP);
2. the whole local stack starts (``LocalStack``; ``--one-process``: ``polyfhir run``,
   gateway + primary only, so the operations answer only once the gateway has them
   without a terminology service);
3. **load**: ``polyfhir terminology load icd10cm`` runs as a child process (CLI ->
   built in memory -> PUT through the gateway -> stored): its wall time; then
   **indexed**: the time until ``CodeSystem/$lookup`` answers 200 for the last code
   of the system (the terminology service has applied the whole CodeSystem);
4. p50/p99 over ``--runs`` requests each (after one untimed request): ``$lookup`` and
   ``$validate-code`` of random codes, ``$expand`` of the is-a subtree of
   ``--subtree`` (chapter 20, External causes: ~10,600 codes; first page of 100, the
   total printed), ``$expand`` with a text ``filter`` over the whole system, and
   ``Observation?code:below=ICD-10-CM|--chapter`` (the route header printed).

An operation the server does not answer with 200 is reported as ``n/a`` with its
status instead of failing the run, so the script can measure what exists.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import httpx

from _common import BIN, database_urls, fhir_server, percentile, table
from polyfhir.terminology.icd10cm import URL as ICD10CM
from polyfhir.terminology.icd10cm import installed_codesystem
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.local_stack import LocalStack
from polyfhir_primary.bootstrap import bootstrap
from polyfhir_primary.settings import PrimarySettings

TENANT = "default"
PAGE = 500
WORDS = ("fracture", "diabetes", "pneumonia", "burn", "poisoning", "tuberculosis", "melanoma")
HEADERS = ["engine", "measure", "p50 ms (or s)", "p99 ms", "note"]
Params = list[tuple[str, str | int | float | bool | None]]
Request = Callable[[random.Random], tuple[str, Params]]


def selectable_codes(codesystem: dict[str, Any]) -> list[str]:
    """Every code of the system that is not a chapter or block, in file order."""
    codes: list[str] = []
    stack = list(reversed(codesystem["concept"]))
    while stack:
        concept = stack.pop()
        if "property" not in concept:
            codes.append(concept["code"])
        stack.extend(reversed(concept.get("concept") or []))
    return codes


def observation(n: int, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"icd{n}",
        "status": "final",
        "code": {"coding": [{"system": ICD10CM, "code": code}]},
        "valueBoolean": True,
    }


def _observations(count: int, codes: list[str], seed: int = 7) -> Iterator[list[dict[str, Any]]]:
    rng = random.Random(seed)
    for start in range(0, count, PAGE):
        yield [observation(n, rng.choice(codes)) for n in range(start, min(start + PAGE, count))]


async def load_observations_direct(url: str, count: int, codes: list[str]) -> float:
    """Write ``count`` Observations through the store service (no HTTP); seconds taken."""
    app = await bootstrap(PrimarySettings(primary_url=url, kafka_bootstrap=""))
    ctx = TenantContext.of(TENANT)
    started = time.perf_counter()
    try:
        for page in _observations(count, codes):
            entries = [EntryRequest(Method.PUT, f"Observation/{r['id']}", r) for r in page]
            await app.service.process(ctx, BundleKind.TRANSACTION, entries)
    finally:
        await app.close()
    return time.perf_counter() - started


def load_observations_http(base: str, tenant: str, count: int, codes: list[str]) -> float:
    """The same Observations as transaction bundles through the FHIR API; seconds taken."""
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers={"X-Tenant-ID": tenant}, timeout=300.0) as client:
        for page in _observations(count, codes):
            entries = [
                {"resource": r, "request": {"method": "PUT", "url": f"Observation/{r['id']}"}}
                for r in page
            ]
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            client.post("", json=bundle).raise_for_status()
    return time.perf_counter() - started


def cli_load(base: str, tenant: str) -> tuple[float, str]:
    """``polyfhir terminology load icd10cm``: seconds and its summary line."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            str(BIN / "polyfhir"),
            "terminology",
            "load",
            "icd10cm",
            "--tenant",
            tenant,
            "--url",
            base,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"terminology load failed ({done.returncode}): {done.stdout}")
    return seconds, done.stdout.strip().splitlines()[0]


def wait_indexed(client: httpx.Client, code: str, timeout: float) -> tuple[float | None, int]:
    """Seconds until ``$lookup`` of ``code`` answers 200 (None: not within ``timeout``)."""
    started = time.perf_counter()
    status = 0
    while time.perf_counter() - started < timeout:
        status = client.get(
            "/CodeSystem/$lookup", params={"system": ICD10CM, "code": code}
        ).status_code
        if status == 200:
            return time.perf_counter() - started, status
        time.sleep(0.2)  # polling until the service has applied the CodeSystem
    return None, status


def value_sets(client: httpx.Client, subtree: str) -> None:
    """The two ValueSets the expansions run on (PUT: a rerun changes nothing)."""
    include: dict[str, Any] = {"system": ICD10CM}
    subtree_vs = {
        "resourceType": "ValueSet",
        "id": "bench-icd10cm-subtree",
        "url": "http://example.org/fhir/ValueSet/bench-icd10cm-subtree",
        "status": "active",
        "compose": {
            "include": [
                {**include, "filter": [{"property": "concept", "op": "is-a", "value": subtree}]}
            ]
        },
    }
    whole_vs = {
        "resourceType": "ValueSet",
        "id": "bench-icd10cm-all",
        "url": "http://example.org/fhir/ValueSet/bench-icd10cm-all",
        "status": "active",
        "compose": {"include": [include]},
    }
    for vs in (subtree_vs, whole_vs):
        client.put(f"/ValueSet/{vs['id']}", json=vs).raise_for_status()
    for vs in (subtree_vs, whole_vs):  # the service applies them asynchronously
        started = time.perf_counter()
        while time.perf_counter() - started < 60:
            expanded = client.get("/ValueSet/$expand", params={"url": vs["url"], "count": 1})
            if expanded.status_code != 404:
                break
            time.sleep(0.2)  # polling until the service has applied the ValueSet


def requests(codes: list[str], chapter: str) -> dict[str, Request]:
    return {
        "$lookup": lambda g: (
            "/CodeSystem/$lookup",
            [("system", ICD10CM), ("code", g.choice(codes))],
        ),
        "$validate-code": lambda g: (
            "/CodeSystem/$validate-code",
            [("url", ICD10CM), ("code", g.choice(codes))],
        ),
        "$expand is-a subtree (count 100)": lambda g: (
            "/ValueSet/bench-icd10cm-subtree/$expand",
            [("count", "100")],
        ),
        "$expand filter (count 100)": lambda g: (
            "/ValueSet/bench-icd10cm-all/$expand",
            [("filter", g.choice(WORDS)), ("count", "100")],
        ),
        f"Observation?code:below={chapter}": lambda g: (
            "/Observation",
            [("code:below", f"{ICD10CM}|{chapter}"), ("_count", "20")],
        ),
    }


def _note(response: httpx.Response) -> str:
    route = response.headers.get("x-polyfhir-route")
    body = response.json() if response.status_code == 200 else {}
    if body.get("resourceType") == "ValueSet":
        return f"total {body.get('expansion', {}).get('total')}"
    if body.get("resourceType") == "Bundle":
        return f"total {body.get('total')}, route {route}"
    return ""


def measure(client: httpx.Client, make: Request, runs: int) -> tuple[list[float], str]:
    """Latencies of ``runs`` requests after one untimed; ([], why) if it is not answered."""
    rng = random.Random(11)
    path, params = make(rng)
    first = client.get(path, params=params)
    if first.status_code != 200:
        return [], f"n/a: {first.status_code}"
    latencies = []
    for _ in range(runs):
        path, params = make(rng)
        started = time.perf_counter()
        response = client.get(path, params=params)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            return [], f"n/a: {response.status_code} on {path}"
    return latencies, _note(first)


def run_engine(engine: str, base: str, tenant: str, args: argparse.Namespace) -> list[list[object]]:
    codesystem = installed_codesystem()
    codes = selectable_codes(codesystem)
    late = codes[-1]
    seconds, summary = cli_load(base, tenant)
    rows: list[list[object]] = [[engine, "load ICD-10-CM (CLI -> stored) s", seconds, "", summary]]
    headers = {"X-Tenant-ID": tenant, "accept": "application/fhir+json"}
    with httpx.Client(base_url=base, headers=headers, timeout=120.0) as client:
        indexed, status = wait_indexed(client, late, args.index_timeout)
        note = f"$lookup {late} answers" if indexed is not None else f"n/a: {status}"
        rows.append(
            [engine, "stored -> indexed s", indexed if indexed is not None else "—", "", note]
        )
        value_sets(client, args.subtree)
        for name, make in requests(codes, args.chapter).items():
            latencies, note = measure(client, make, args.runs)
            if "Observation" in name:
                note = f"{args.observations:,} Observations; {note}"
            p50 = percentile(latencies, 50) * 1000 if latencies else "—"
            p99 = percentile(latencies, 99) * 1000 if latencies else "—"
            rows.append([engine, name, p50, p99, note])
    return rows


def stack_options() -> dict[str, Any]:
    """Start the terminology-indexer with the stack where ``LocalStack`` has the switch."""
    names = {f.name for f in fields(LocalStack)}
    return {"terminology": True} if "terminology" in names else {}


def run_local(engine: str, url: str, args: argparse.Namespace) -> list[list[object]]:
    codes = selectable_codes(installed_codesystem())
    seconds = asyncio.run(load_observations_direct(url, args.observations, codes))
    print(f"{engine}: {args.observations:,} Observations in {seconds:,.1f} s", flush=True)
    if args.one_process:
        with fhir_server(url) as base:
            return run_engine(engine, base, TENANT, args)
    workdir = Path(tempfile.mkdtemp(prefix=f"polyfhir-terminology-{engine}-"))
    quiet = {"POLYFHIR_LOG_LEVEL": "WARNING", "POLYFHIR_ACCESS_LOG": "false"}
    sync = {"mode": "asynchronous", "max_read_lag_ms": 0}
    with LocalStack(workdir, primary_url=url, sync=sync, extra_env=quiet, **stack_options()) as s:
        rows = run_engine(engine, s.base_url, TENANT, args)
    shutil.rmtree(workdir, ignore_errors=True)  # kept (with the services' logs) on a failure
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--base-url", default=None, help="measure this running server instead")
    parser.add_argument("--observations", type=int, default=10_000, help="the issue asks 1M")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--chapter", default="2", help="the :below chapter (2: Neoplasms)")
    parser.add_argument("--subtree", default="20", help="the is-a root (20: ~10,600 codes)")
    parser.add_argument("--index-timeout", type=float, default=300.0, help="seconds")
    parser.add_argument("--one-process", action="store_true", help="polyfhir run, no services")
    args = parser.parse_args()
    rows: list[list[object]] = []
    if args.base_url:
        tenant = f"bench-{uuid.uuid4().hex[:8]}"
        codes = selectable_codes(installed_codesystem())
        base = args.base_url.rstrip("/")
        seconds = load_observations_http(base, tenant, args.observations, codes)
        print(f"{args.observations:,} Observations in {seconds:,.1f} s (tenant {tenant})")
        rows = run_engine("server", base, tenant, args)
    else:
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        with database_urls(backends) as urls:
            for engine in backends:
                rows += run_local(engine, urls[engine], args)
                print(table(HEADERS, rows), flush=True)
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
