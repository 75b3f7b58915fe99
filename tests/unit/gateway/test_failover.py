"""failover standbys: promoted while the original is down, demoted when it recovers (fakes)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from fakes.search_index import DOWN, FakeSearchIndex
from polyfhir_core.config import QueryFeature, parse_config
from polyfhir_core.contracts.primary_store import EntryResponse, ResourceVersion
from polyfhir_core.planning import BackendState, RouteReason, RoutingContext, analyze
from polyfhir_core.planning.advisor import parse_query_line
from polyfhir_core.planning.router import plan_query
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline import HealthMonitor, WriteSync

pytestmark = pytest.mark.unit

PRIMARY = {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"}
SEARCH = {
    "id": "search",
    "role": "search",
    "kind": "opensearch",
    "url": "http://os:9200",
    "failover": "search-b",
}
STANDBY = {**SEARCH, "id": "search-b", "url": "http://os-b:9200", "enabled": False}
ACME = TenantContext.of("acme")


def config(**top: Any):  # type: ignore[no-untyped-def]
    return parse_config(
        {
            "backends": [PRIMARY, SEARCH, {k: v for k, v in STANDBY.items() if k != "failover"}],
            "health": {"failure_threshold": 1, "success_threshold": 2},
            **top,
        }
    )


def promoted_gauge(backend: str, standby: str) -> float | None:
    return REGISTRY.get_sample_value(
        "polyfhir_gateway_backend_promoted", {"backend": backend, "standby": standby}
    )


async def test_the_standby_is_promoted_while_the_original_is_down_and_demoted_after() -> None:
    original, standby = FakeSearchIndex(), FakeSearchIndex()
    cfg = config()
    monitor = HealthMonitor(cfg, {"search": original, "search-b": standby})
    assert monitor.promotions() == {}
    original.ready_error = DOWN
    await monitor.check_all()
    assert monitor.promotions() == {"search": "search-b"}
    assert promoted_gauge("search", "search-b") == 1
    reports = {r["id"]: r for r in monitor.to_json()}
    assert reports["search"]["promotedTo"] == "search-b"
    assert reports["search-b"]["servingFor"] == ["search"]

    ctx = RoutingContext(cfg, monitor.snapshot())
    text = plan_query(analyze(parse_query_line("Patient?_text=x")), ctx)
    decision = text.decision(QueryFeature.FULL_TEXT)
    assert decision is not None
    assert (decision.backend, decision.reason) == ("search-b", RouteReason.FAILOVER)
    assert text.backends == ("search-b", "primary")

    original.ready_error = None
    await monitor.check("search")  # one success of two: still promoted
    assert monitor.promotions() == {"search": "search-b"}
    await monitor.check("search")
    assert monitor.promotions() == {}
    assert promoted_gauge("search", "search-b") == 0


async def test_writes_wait_for_the_promoted_standby() -> None:
    original, standby = FakeSearchIndex(), FakeSearchIndex()
    cfg = config(sync={"mode": "synchronous", "timeout_ms": 200})
    indexes = {"search": original, "search-b": standby}
    monitor = HealthMonitor(cfg, indexes)
    writes = WriteSync(cfg, indexes, monitor)
    written = [EntryResponse(201, written=ResourceVersion("Patient", "p", 1))]
    assert await writes.wait(ACME, written) == []
    assert (len(original.waited), len(standby.waited)) == (1, 0)
    original.ready_error = DOWN
    await monitor.check_all()
    assert await writes.wait(ACME, written) == []  # the standby confirmed it
    assert (len(original.waited), len(standby.waited)) == (1, 1)


async def test_the_primary_answers_and_writes_warn_only_when_both_are_down() -> None:
    original, standby = FakeSearchIndex(ready_error=DOWN), FakeSearchIndex(ready_error=DOWN)
    cfg = config(sync={"mode": "synchronous", "timeout_ms": 200})
    indexes = {"search": original, "search-b": standby}
    monitor = HealthMonitor(cfg, indexes)
    await monitor.check_all()
    assert monitor.promotions() == {}
    ctx = RoutingContext(cfg, monitor.snapshot())
    decision = plan_query(analyze(parse_query_line("Patient?_text=x")), ctx).decision(
        QueryFeature.FULL_TEXT
    )
    assert decision is not None
    assert (decision.backend, decision.reason) == ("primary", RouteReason.UNHEALTHY)
    writes = WriteSync(cfg, indexes, monitor)
    (warning,) = await writes.wait(
        ACME, [EntryResponse(201, written=ResourceVersion("Patient", "p", 1))]
    )
    assert "unhealthy" in (warning.diagnostics or "")


def test_a_standby_without_a_client_is_never_promoted() -> None:
    cfg = config()
    monitor = HealthMonitor(cfg, {"search": FakeSearchIndex()})
    states = {**monitor.snapshot(), "search": BackendState.UNHEALTHY}
    assert states["search-b"] is BackendState.UNHEALTHY
    decision = plan_query(
        analyze(parse_query_line("Patient?_text=x")), RoutingContext(cfg, states)
    ).decision(QueryFeature.FULL_TEXT)
    assert decision is not None and decision.backend == "primary"
