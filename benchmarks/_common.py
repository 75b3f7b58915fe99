"""Shared pieces of the benchmarks: servers as child processes, percentiles, tables."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from polyfhir_engines.postgres import LocalPostgres
from polyfhir_engines.processes import free_port, wait_http
from polyfhir_testing.postgres import postgres_from_env

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return f"{value:,.1f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


@contextmanager
def database_urls(
    backends: Sequence[str], pg_settings: dict[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """A fresh database per backend: SQLite file, PostgreSQL embedded or by DSN.

    ``pg_settings`` configure the embedded server (ignored for a server by DSN,
    which is configured by whoever runs it). The files go afterwards, unless
    ``POLYFHIR_BENCH_KEEP`` is set."""
    workdir = Path(tempfile.mkdtemp(prefix="polyfhir-bench-"))
    urls: dict[str, str] = {}
    server = None
    if "sqlite" in backends:
        urls["sqlite"] = f"sqlite:///{workdir}/bench.db"
    if "postgresql" in backends:
        server = postgres_from_env(workdir / "pg")
        if pg_settings and isinstance(server, LocalPostgres):
            server.configure(pg_settings)
        urls["postgresql"] = server.create_database(f"bench_{uuid.uuid4().hex[:8]}")
    try:
        yield urls
    finally:
        if server is not None:
            server.stop()
        if os.environ.get("POLYFHIR_BENCH_KEEP"):  # e.g. to measure again: search.py --measure-only
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def fhir_server(primary_url: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """``polyfhir run`` (one process) on a free port; yields the FHIR base URL."""
    port = free_port()
    env = {
        **os.environ,
        "POLYFHIR_PRIMARY_URL": primary_url,
        "POLYFHIR_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    log = tempfile.NamedTemporaryFile(prefix="polyfhir-bench-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN / "polyfhir"), "run", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", proc)
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def load_bundles(base: str, bundles: list[dict[str, Any]], concurrency: int) -> float:
    """POST transaction bundles, ``concurrency`` at a time; seconds taken (fails loudly)."""
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=300.0) as client:

        async def post(bundle: dict[str, Any]) -> None:
            async with gate:
                response = await client.post("", json=bundle)
            if response.status_code != 200:
                raise RuntimeError(f"transaction failed {response.status_code}: {response.text}")

        started = time.perf_counter()
        await asyncio.gather(*(post(b) for b in bundles))
        return time.perf_counter() - started


def count(base: str, rtype: str) -> int:
    response = httpx.get(f"{base}/{rtype}", params={"_summary": "count"}, timeout=60.0)
    response.raise_for_status()
    return int(response.json()["total"])


def scrape(url: str) -> dict[str, float]:
    """A service's ``/metrics`` as ``name{label="v",...} -> value`` (prometheus-client's parser)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url.rstrip('/')}/metrics", timeout=30.0).text
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def _buckets(metrics: dict[str, float], name: str) -> list[tuple[float, float]]:
    return sorted(
        (float(k.split('le="', 1)[1].split('"', 1)[0]), v)
        for k, v in metrics.items()
        if k.startswith(f"{name}_bucket") and 'le="+Inf"' not in k
    )


def bucket_quantile_ms(
    before: dict[str, float], after: dict[str, float], name: str, q: float
) -> str:
    """Upper bucket edge holding quantile ``q`` of histogram ``name`` between two scrapes
    (``before={}``: everything observed so far)."""
    old = dict(_buckets(before, name))
    new = [(bound, count - old.get(bound, 0.0)) for bound, count in _buckets(after, name)]
    total = after.get(f"{name}_count", 0.0) - before.get(f"{name}_count", 0.0)
    for bound, cumulative in new:
        if total and cumulative >= q * total:
            return f"≤{bound * 1000:g}"
    return "n/a" if not total else f">{new[-1][0] * 1000:g}" if new else "n/a"
