"""The fault matrix (issue 12 item 6): every fault during a steady ingest, on both primaries.

Each row starts a stack of its own (SQLite or an embedded PostgreSQL as the
primary, asynchronous sync), supervised as ``polyfhir stack`` supervises it, and
runs a bounded writer that creates and updates patients and records every
acknowledged write with its version. Mid-ingest it injects one fault:

- kill -9 of a service (gateway, primary-store, search-indexer) or of an engine
  (the Tansu broker, the osmem search engine, PostgreSQL when it is the primary);
- the broker stopped for 10 s (held down, then let the supervisor start it).

The supervisor brings the child back (``recovered``); the writer goes on until
the stack has acknowledged writes after the recovery too. Then, with no manual
repair call:

1. every acknowledged write is readable at its version, with what was written;
2. the search secondary converges within 30 s of the later of the recovery and the
   writer's last write: for the row's tenant
   the index holds exactly the primary's current version of every resource and
   nothing else (what ``/admin/backends/search/reconcile`` would find to repair:
   zero drift), and ``_content`` is answered by the search service with every
   resource.

``docs/operations.md`` ("What an operator sees in each fault") has the outcome
of each row.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from polyfhir_core.contracts.search_index import SEARCH_INDEX
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.local_stack import LocalStack
from polyfhir_engines.supervisor import Backoff, Supervisor
from polyfhir_servicekit.contract_client import ServiceClients
from stack.conftest import eventually, fhir_client, ids, patient, route

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

CONVERGE_WITHIN_S = 30.0
BROKER_OUTAGE_S = 10.0
QUICK = Backoff(initial_s=0.2, maximum_s=2.0)


@dataclass(eq=False)
class Ingest(threading.Thread):
    """Creates patients and updates them (every third write), one at a time at a steady
    pace (at most one per ``pace_s``); bounded by ``limit`` acknowledged writes and
    ``deadline_s``. ``acknowledged`` maps (id, version) to the family name written;
    refused or lost requests are only counted, and the next attempt waits ``retry_s``
    as a client backing off would."""

    stack: LocalStack
    tenant: str
    marker: str
    limit: int = 2000
    deadline_s: float = 240.0
    pace_s: float = 0.05
    retry_s: float = 0.1
    acknowledged: dict[tuple[str, int], str] = field(default_factory=dict)
    unacknowledged: int = 0
    halt: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        ends = time.monotonic() + self.deadline_s
        attempt = 0
        with fhir_client(self.stack, self.tenant) as fhir:
            while len(self.acknowledged) < self.limit and time.monotonic() < ends:
                pause = self.pace_s if self._write(fhir, attempt) else self.retry_s
                if self.halt.wait(pause):  # the writer's own rate, not a wait for a result
                    return
                attempt += 1

    def _write(self, fhir: httpx.Client, n: int) -> bool:
        body = patient(self.marker, n)
        known = sorted({pid for pid, _ in self.acknowledged})
        try:
            if n % 3 == 2 and known:
                pid = known[n % len(known)]
                answer = fhir.put(f"/Patient/{pid}", json={**body, "id": pid})
            else:
                answer = fhir.post("/Patient", json=body)
        except httpx.TransportError:
            self.unacknowledged += 1
            return False
        if answer.status_code not in (200, 201):
            self.unacknowledged += 1
            return False
        meta = answer.json()["meta"]
        self.acknowledged[(answer.json()["id"], int(meta["versionId"]))] = f"Family{n}"
        return True

    def wait_for(self, count: int, what: str) -> None:
        with contextlib.suppress(AssertionError):  # reported below, with the stack's logs
            eventually(lambda: len(self.acknowledged) >= count or not self.is_alive(), 120, what)
        assert len(self.acknowledged) >= count, (
            f"{len(self.acknowledged)} writes acknowledged at {what}: {self.stack.logs()}"
        )


def _kill(pid: int | None) -> None:
    assert pid is not None, "the child is not running"
    os.kill(pid, signal.SIGKILL)


Fault = Callable[[LocalStack, Supervisor], str]  # injects the fault; names the child to wait for


def kill_child(attribute: str) -> Fault:
    def inject(stack: LocalStack, supervisor: Supervisor) -> str:
        child = getattr(stack, attribute)
        _kill(child.pid)
        return str(child.name)

    return inject


def stop_broker(stack: LocalStack, supervisor: Supervisor) -> str:
    with supervisor.holding(stack.kafka.name):  # released: the supervisor starts it again
        stack.kafka.stop()
        threading.Event().wait(BROKER_OUTAGE_S)  # the outage itself, not a wait for a result
    return stack.kafka.name


FAULTS: dict[str, Fault] = {
    "kill-gateway": kill_child("gateway"),
    "kill-primary-store": kill_child("primary"),
    "kill-search-indexer": kill_child("indexer"),
    "kill-broker": kill_child("kafka"),
    "kill-search-engine": kill_child("opensearch"),
    "kill-postgres": kill_child("postgres"),
    "stop-broker-10s": stop_broker,
}
ROWS = [
    pytest.param(primary, fault, id=f"{fault}-{primary}")
    for primary in ("sqlite", "postgresql")
    for fault in FAULTS
    if not (fault == "kill-postgres" and primary == "sqlite")
]


def _current_versions(stack: LocalStack, tenant: str) -> dict[str, int]:
    """What the primary holds now: id -> version (a search without full text is its own)."""
    with fhir_client(stack, tenant) as fhir:
        answer = fhir.get("/Patient", params={"_count": 1000})
        assert answer.status_code == 200, answer.text
        assert "primary" in route(answer)
        return {
            e["resource"]["id"]: int(e["resource"]["meta"]["versionId"])
            for e in answer.json().get("entry", [])
        }


async def _index_versions(stack: LocalStack, tenant: str, wanted: list[str]) -> dict[str, int]:
    clients = ServiceClients()
    index = clients.connect(SEARCH_INDEX, stack.indexer.url)
    ctx = TenantContext.of(tenant)
    try:
        keys = [ResourceKey("Patient", pid) for pid in wanted]
        held = {v.id: v.version for v in await index.versions(ctx, keys) if not v.deleted}
        scanned = await index.scan(ctx, None, 1000)
        held |= {e.id: held.get(e.id, e.version) for e in scanned if not e.deleted}
        return held
    finally:
        await clients.close()


def drift(stack: LocalStack, tenant: str, marker: str) -> list[str]:
    """What a reconcile would repair for ``tenant`` (empty: converged), found without
    repairing anything; plus whether full text is answered by search with every id."""
    primary = _current_versions(stack, tenant)
    try:
        index = asyncio.run(_index_versions(stack, tenant, sorted(primary)))
    except Exception as error:
        return [f"index unreachable: {error!r}"]
    problems = [
        f"{pid}: primary v{version}, index v{index.get(pid)}"
        for pid, version in primary.items()
        if index.get(pid) != version
    ]
    problems += [f"{pid}: orphan in the index" for pid in index.keys() - primary.keys()]
    with fhir_client(stack, tenant) as fhir:
        found = fhir.get("/Patient", params={"_content": marker, "_count": 1000})
    if found.status_code != 200 or "search" not in route(found):
        problems.append(f"_content not answered by search ({found.status_code} {route(found)})")
    elif set(ids(found.json())) != set(primary):
        problems.append(f"_content finds {len(ids(found.json()))} of {len(primary)}")
    return problems


def unreadable(stack: LocalStack, tenant: str, written: dict[tuple[str, int], str]) -> list[str]:
    missing = []
    with fhir_client(stack, tenant) as fhir:
        for (pid, version), family in sorted(written.items()):
            answer = fhir.get(f"/Patient/{pid}/_history/{version}")
            if answer.status_code != 200 or answer.json()["name"][0]["family"] != family:
                missing.append(f"{pid}/_history/{version}: {answer.status_code}")
    return missing


@pytest.mark.parametrize(("primary", "fault"), ROWS)
def test_fault_during_ingest_loses_no_acknowledged_write_and_converges(
    fresh_stack: Callable[..., LocalStack],
    tenant: str,
    marker: str,
    primary: str,
    fault: str,
    record_property: Callable[[str, Any], None],
) -> None:
    stack = fresh_stack("asynchronous", embedded_postgres=primary == "postgresql")
    supervisor = Supervisor(stack.children, QUICK)
    ingest = Ingest(stack, tenant, marker)
    with supervisor.running_in_background():
        ingest.start()
        ingest.wait_for(30, "the ingest before the fault")
        name = FAULTS[fault](stack, supervisor)
        eventually(lambda: supervisor.restarts[name] >= 1, 120, f"{name} restarted")
        recovered = time.monotonic()
        after = len(ingest.acknowledged)
        ingest.wait_for(after + 15, "writes acknowledged after the recovery")
        ingest.halt.set()
        ingest.join(timeout=60)
        # The 30 s run from the later of the recovery and the writer's last write: on a
        # loaded machine the writes after the recovery alone can take most of 30 s.
        quiet = time.monotonic()
        assert not unreadable(stack, tenant, ingest.acknowledged), stack.logs()
        problems: list[str] = []

        def converged() -> bool:
            problems[:] = drift(stack, tenant, marker)
            return not problems

        try:
            eventually(converged, CONVERGE_WITHIN_S - (time.monotonic() - quiet), "zero drift")
        except AssertionError:
            record_property("outcome", f"drift: {problems[:5]}")
            raise AssertionError(
                f"{fault} on {primary}: not converged {CONVERGE_WITHIN_S}s after the last write: "
                f"{len(problems)} problems, e.g. {problems[:5]}"
            ) from None
        record_property("converged_after_recovery_s", round(time.monotonic() - recovered, 1))
        record_property("converged_after_last_write_s", round(time.monotonic() - quiet, 1))
        record_property("acknowledged", len(ingest.acknowledged))
        record_property("unacknowledged", ingest.unacknowledged)
