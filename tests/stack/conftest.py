"""The whole polyglot stack as separate processes over the real local engines.

Every test here talks to the gateway over HTTP exactly as a user would, while
the primary-store (with its outbox relay), the search-indexer, the Tansu broker
and osmem-server run as child processes (``polyfhir_engines.local_stack.LocalStack``).
Failure tests stop, kill and restart those processes.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from polyfhir_engines.local_stack import LocalStack

SYNC = {
    "asynchronous": {"mode": "asynchronous", "max_read_lag_ms": 2000},
    "synchronous": {"mode": "synchronous", "timeout_ms": 10000},
    "hybrid": {"mode": {"kind": "hybrid", "sync_for_search": True}, "timeout_ms": 10000},
}


@pytest.fixture
def tenant() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def marker() -> str:
    """A word no other resource contains (letters only, so the analyzer keeps it whole)."""
    return "zq" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:10])


def make_stack(tmp: Path, sync: str = "asynchronous", **kw: Any) -> LocalStack:
    return LocalStack(tmp, sync=SYNC[sync], **kw)


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[Callable[..., LocalStack]]:
    """A stack of the test's own (for tests that stop, kill or restart parts of it)."""
    started: list[LocalStack] = []

    def start(sync: str = "asynchronous", **kw: Any) -> LocalStack:
        stack = make_stack(tmp_path / f"stack{len(started)}", sync, **kw)
        started.append(stack)
        return stack.start()

    yield start
    for stack in started:
        stack.stop()


def fhir_client(stack: LocalStack, tenant: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.base_url,
        headers={"X-Tenant-ID": tenant, "accept": "application/fhir+json"},
        timeout=30.0,
    )


def patient(marker: str, n: int = 0) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "text": {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">Patient {marker} number {n} was running</div>',
        },
        "name": [{"family": f"Family{n}", "given": [marker]}],
    }


def route(response: httpx.Response) -> list[str]:
    return str(response.headers.get("x-polyfhir-route", "")).split(",")


def ids(bundle: dict[str, Any]) -> list[str]:
    return [
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode", "match") == "match"
    ]


def eventually(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy (bounded; no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")


class Writer(threading.Thread):
    """Creates ``count`` patients one after another; remembers every acknowledged id."""

    def __init__(self, stack: LocalStack, tenant: str, marker: str, count: int) -> None:
        super().__init__(daemon=True)
        self.stack, self.tenant, self.marker, self.count = stack, tenant, marker, count
        self.acknowledged: list[str] = []
        self.failures: list[str] = []

    def run(self) -> None:
        with fhir_client(self.stack, self.tenant) as fhir:
            for n in range(self.count):
                answer = fhir.post("/Patient", json=patient(self.marker, n))
                if answer.status_code == 201:
                    self.acknowledged.append(answer.json()["id"])
                else:
                    self.failures.append(f"{answer.status_code} {answer.text[:200]}")

    def wait_for(self, acknowledged: int) -> None:
        eventually(
            lambda: len(self.acknowledged) >= acknowledged or not self.is_alive(),
            what=f"{acknowledged} writes",
        )
