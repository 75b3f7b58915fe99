"""Health monitor thresholds and lag, and which writes a SyncMode waits for (fakes, no I/O)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fakes.search_index import DOWN, FakeSearchIndex
from polyfhir_core.config import parse_config
from polyfhir_core.contracts.primary_store import EntryResponse, ResourceVersion
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.planning import BackendState
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline import HealthMonitor, WriteSync, with_warnings, written_version
from polyfhir_gateway.pipeline.consistency import read_lag_bound, sync_warning

pytestmark = pytest.mark.unit

PRIMARY = {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"}
SEARCH = {"id": "search", "role": "search", "kind": "opensearch", "url": "http://os:9200"}
GRAPH = {"id": "graph", "role": "graph", "kind": "neo4j", "url": "neo4j://n:7687"}
ACME = TenantContext.of("acme")


def config(**top: Any):  # type: ignore[no-untyped-def]
    return parse_config({"backends": [PRIMARY, SEARCH, GRAPH], **top})


async def test_failure_and_success_thresholds_give_hysteresis() -> None:
    fake = FakeSearchIndex(ready_error=DOWN)
    monitor = HealthMonitor(
        config(health={"failure_threshold": 3, "success_threshold": 2}), {"search": fake}
    )
    states = [await monitor.check("search") for _ in range(3)]
    assert states == [BackendState.HEALTHY, BackendState.HEALTHY, BackendState.UNHEALTHY]
    fake.ready_error = None
    states = [await monitor.check("search") for _ in range(2)]
    assert states == [BackendState.UNHEALTHY, BackendState.HEALTHY]
    report = monitor.to_json()[0]
    assert report["id"] == "search"
    assert report["lastError"] == "search engine down"


async def test_a_failure_between_successes_restarts_the_count() -> None:
    fake = FakeSearchIndex()
    monitor = HealthMonitor(
        config(health={"failure_threshold": 2, "success_threshold": 1}), {"search": fake}
    )
    fake.ready_error = DOWN
    await monitor.check("search")
    fake.ready_error = None
    await monitor.check("search")
    fake.ready_error = DOWN
    assert await monitor.check("search") is BackendState.HEALTHY


async def test_lagging_clears_once_the_backend_applied_the_waited_versions() -> None:
    fake = FakeSearchIndex(applied=False)
    monitor = HealthMonitor(config(), {"search": fake})
    monitor.mark_lagging("search", "acme", [AppliedVersion("Patient", "1", 2)])
    assert monitor.snapshot() == {"search": BackendState.LAGGING}
    assert await monitor.check("search") is BackendState.LAGGING
    fake.applied = True
    assert await monitor.check("search") is BackendState.HEALTHY
    assert fake.waited[-1] == ("acme", [AppliedVersion("Patient", "1", 2)], 0)


async def test_only_backends_with_a_client_are_monitored() -> None:
    monitor = HealthMonitor(config(), {"search": FakeSearchIndex()})
    assert monitor.snapshot() == {"search": BackendState.HEALTHY}
    assert monitor.state("graph") is BackendState.HEALTHY  # not monitored: the router decides


def test_the_written_version_is_what_the_primary_says_it_wrote() -> None:
    created = EntryResponse(201, written=ResourceVersion("Patient", "a", 1))
    deleted = EntryResponse(204, written=ResourceVersion("Patient", "a", 5, deleted=True))
    assert written_version(created) == AppliedVersion("Patient", "a", 1)
    assert written_version(deleted) == AppliedVersion("Patient", "a", 5)
    assert written_version(EntryResponse(204)) is None  # a delete of nothing wrote nothing
    assert written_version(EntryResponse(200, location="Patient/a/_history/1")) is None  # a read
    failed = EntryResponse(400, written=ResourceVersion("Patient", "a", 1))
    assert written_version(failed) is None


@pytest.mark.parametrize(
    ("mode", "waits"),
    [
        ("asynchronous", []),
        ("synchronous", ["search"]),
        ({"kind": "hybrid"}, ["search"]),
        ({"kind": "hybrid", "sync_for_search": False}, []),
    ],
)
def test_sync_modes_decide_which_backends_a_write_waits_for(mode: Any, waits: list[str]) -> None:
    sync = WriteSync(config(sync={"mode": mode}), {"search": FakeSearchIndex()}, None)
    assert [b.id for b in sync.backends] == waits  # the graph has no client yet


async def test_a_timed_out_wait_warns_and_marks_lagging_and_an_unhealthy_backend_is_skipped() -> (
    None
):
    fake = FakeSearchIndex(applied=False)
    cfg = config(
        sync={"mode": "synchronous", "timeout_ms": 250},
        health={"failure_threshold": 1, "success_threshold": 1},
    )
    monitor = HealthMonitor(cfg, {"search": fake})
    sync = WriteSync(cfg, {"search": fake}, monitor)
    response = EntryResponse(201, written=ResourceVersion("Patient", "p", 1))
    (issue,) = await sync.wait(ACME, [response])
    assert issue.severity == "warning"
    assert "within 250 ms" in issue.diagnostics
    assert monitor.state("search") is BackendState.LAGGING
    fake.ready_error = DOWN
    await monitor.check("search")
    calls = len(fake.waited)
    (skipped,) = await sync.wait(ACME, [response])
    assert "unhealthy" in skipped.diagnostics
    assert len(fake.waited) == calls
    assert await sync.wait(ACME, [EntryResponse(200)]) == []  # a read wrote nothing


def test_with_warnings_appends_to_an_existing_outcome() -> None:
    warning = sync_warning(
        parse_config({"backends": [PRIMARY, SEARCH]}).backend("search"), 10, None
    )
    merged = with_warnings(
        {"resourceType": "OperationOutcome", "issue": [{"severity": "information"}]}, [warning]
    )
    assert [i["severity"] for i in merged["issue"]] == ["information", "warning"]
    assert with_warnings(None, [warning])["issue"][0]["code"] == "timeout"


def test_the_outcome_header_is_ascii_json_whatever_the_error_text() -> None:
    from polyfhir_gateway.api.interactions import ascii_json

    value = {"diagnostics": "moteur arrêté 😀\nligne"}
    text = ascii_json(value)
    text.encode("ascii")
    assert orjson.loads(text) == value


@pytest.mark.parametrize(
    ("sync", "bound"),
    [
        ({"mode": "asynchronous"}, 1000),  # the default lag a read may wait
        ({"mode": "asynchronous", "max_read_lag_ms": 0}, 0),
        ({"mode": "asynchronous", "max_read_lag_ms": None}, None),  # stale reads accepted
        ({"mode": "synchronous", "max_read_lag_ms": 500}, None),  # the writes waited already
    ],
)
def test_how_long_a_read_waits_for_the_search_backend(sync: Any, bound: int | None) -> None:
    cfg = config(sync=sync)
    search = cfg.backend("search")
    assert read_lag_bound(cfg.sync_for(search), search) == bound
