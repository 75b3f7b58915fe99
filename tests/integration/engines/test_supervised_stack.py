"""The supervisor with real children: a crashed service or engine comes back on its
port, and the FHIR API stays up meanwhile."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest

from polyfhir_engines.engine_process import EngineProcess
from polyfhir_engines.local_stack import LocalStack, Service
from polyfhir_engines.postgres import PostgresEngine
from polyfhir_engines.processes import free_port, stop
from polyfhir_engines.supervisor import Backoff, Supervisor
from support import until

pytestmark = pytest.mark.integration

QUICK = Backoff(initial_s=0.2, maximum_s=2.0)


def _restarted(child: EngineProcess | Service, before: int | None) -> bool:
    return bool(child.running and child.pid != before)


def crash(pid: int | None) -> None:
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def patient(tenant_word: str) -> dict[str, object]:
    return {"resourceType": "Patient", "name": [{"family": tenant_word}]}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    with LocalStack(tmp_path / "stack", sync={"mode": "asynchronous"}) as running:
        yield running


def test_a_killed_service_and_a_killed_engine_come_back_while_the_api_answers(
    stack: LocalStack,
) -> None:
    tenant = f"t{uuid.uuid4().hex[:12]}"
    fhir = httpx.Client(base_url=stack.base_url, headers={"X-Tenant-ID": tenant}, timeout=30.0)
    with fhir, Supervisor(stack.children, QUICK).running_in_background():
        for child in (stack.indexer, stack.opensearch):
            before = child.pid
            crash(before)
            # the gateway and the primary do not depend on it: a write is acknowledged
            assert fhir.post("/Patient", json=patient("Crashed")).status_code == 201
            until(
                functools.partial(_restarted, child, before),
                within=60,
                what=f"{child.name} restarted",
            )
        until(
            lambda: answers(f"{stack.indexer.url}/livez"),
            within=60,
            what="the indexer answering",
        )
        assert answers(f"{stack.opensearch.url}/")


def test_the_stack_postgres_survives_kill_9_with_every_committed_row(tmp_path: Path) -> None:
    engine = PostgresEngine(tmp_path / "pg", log_dir=tmp_path)

    async def query(*statements: str) -> list[int]:
        conn = await asyncpg.connect(engine.url)
        try:
            for statement in statements[:-1]:
                await conn.execute(statement)
            return [row[0] for row in await conn.fetch(statements[-1])]
        finally:
            await conn.close()

    def rows_after_recovery() -> list[int] | None:
        try:
            return asyncio.run(query("SELECT n FROM kept ORDER BY n"))
        except (OSError, asyncpg.PostgresError):
            return None

    with engine, Supervisor([engine], QUICK).running_in_background():
        committed = asyncio.run(
            query(
                "CREATE TABLE kept (n int)",
                "INSERT INTO kept VALUES (1), (2)",
                "SELECT n FROM kept",
            )
        )
        before = engine.pid
        crash(before)
        assert until(rows_after_recovery, within=90, what="postgres back") == committed == [1, 2]
        assert engine.pid != before


def _children(pid: int) -> dict[str, int]:
    """The program (or script) name of each child of ``pid`` -> its pid."""
    found: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            for arg in argv[:2]:  # the script, or the interpreter running it
                found.setdefault(Path(arg.decode()).name, int(child))
    return found


def test_polyfhir_stack_restarts_a_killed_indexer_and_logs_it(tmp_path: Path) -> None:
    port = free_port()
    cli = Path(sys.executable).parent / "polyfhir"
    log = tmp_path / "stack.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(cli),
                "stack",
                "--port",
                str(port),
                "--sync",
                "asynchronous",
                "--data",
                str(tmp_path / "data"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        until(
            lambda: b"FHIR API" in log.read_bytes() or proc.poll() is not None,
            within=180,
            what="the stack",
        )
        assert proc.poll() is None, log.read_text()
        indexer = _children(proc.pid)["polyfhir-search-indexer"]
        os.kill(indexer, signal.SIGKILL)
        tenant = {"X-Tenant-ID": f"t{uuid.uuid4().hex[:12]}"}
        created = httpx.post(
            f"{base}/fhir/Patient", json=patient("Alive"), headers=tenant, timeout=30
        )
        assert created.status_code == 201, created.text
        restarted = until(
            lambda: next(
                (
                    line
                    for line in map(_json, log.read_bytes().splitlines())
                    if line.get("msg") == "child restarted"
                    and line.get("child") == "search-indexer"
                ),
                None,
            ),
            within=60,
            what="the restart logged",
        )
        exited = next(
            line
            for line in map(_json, log.read_bytes().splitlines())
            if line.get("msg") == "child exited"
        )
        assert (exited["child"], exited["exit_code"], exited["attempt"]) == (
            "search-indexer",
            -9,
            1,
        )
        assert _children(proc.pid)["polyfhir-search-indexer"] == restarted["pid"] != indexer
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stop(proc)
    assert proc.returncode == 0, log.read_text()[-3000:]


def _json(line: bytes) -> dict[str, object]:
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
