"""The patient compartment for ``$everything`` from the graph: the patients, every live
resource linked to them by a Patient CompartmentDefinition parameter, ``_type``,
``_since`` and paging (FalkorDB, and Neo4j when a URI is given)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_core.contracts.graph_index import CompartmentRequest
from polyfhir_core.resources import ResourceKey

pytestmark = pytest.mark.integration


def at(h: Any, rtype: str, rid: str, when: datetime, **body: Any) -> ResourceChanged:
    resource = {"resourceType": rtype, "id": rid, **body}
    return ResourceChanged(h.tenant, rtype, rid, 1, ChangeKind.CREATED, when, resource)


@pytest.fixture
async def chart(harness: Any, gx: Any) -> Any:
    h = harness
    await h.apply(
        h.put("Patient", "p1", 1, managingOrganization=gx.ref("Organization/o1")),
        h.put("Patient", "p2", 1),
        h.put("Observation", "obs", 1, subject=gx.ref("Patient/p1")),
        h.put(
            "Observation", "by", 1, subject=gx.ref("Patient/p2"), performer=[gx.ref("Patient/p1")]
        ),
        h.put("Encounter", "enc", 1, subject=gx.ref("Patient/p1")),
        h.put("Organization", "o1", 1),
        h.put("AuditEvent", "ae", 1, entity=[{"what": gx.ref("Patient/p1")}]),
        h.put("Condition", "gone", 1, subject=gx.ref("Patient/p1")),
    )
    await h.apply(h.delete("Condition", "gone", 2))
    return h


async def keys(h: Any, request: CompartmentRequest) -> list[str]:
    return [str(k) for k in (await h.service.compartment(h.ctx, request)).keys]


async def test_everything_of_a_patient(chart: Any) -> None:
    # performer puts "by" in p1's compartment, and the AuditEvent's entity (its ``patient``
    # parameter); the Patient's own reference to its Organization is no compartment link;
    # the deleted Condition is gone
    assert await keys(chart, CompartmentRequest(("p1",))) == [
        "AuditEvent/ae",
        "Encounter/enc",
        "Observation/by",
        "Observation/obs",
        "Patient/p1",
    ]


async def test_type_filter_and_paging(chart: Any) -> None:
    h = chart
    only = CompartmentRequest(("p1", "p2"), types=("Observation",))
    assert await keys(h, only) == ["Observation/by", "Observation/obs"]
    first = await h.service.compartment(h.ctx, CompartmentRequest(("p1",), limit=3))
    assert [str(k) for k in first.keys] == ["AuditEvent/ae", "Encounter/enc", "Observation/by"]
    assert not first.complete
    rest = await h.service.compartment(
        h.ctx, CompartmentRequest(("p1",), after=ResourceKey("Observation", "by"), limit=2)
    )
    assert [str(k) for k in rest.keys] == ["Observation/obs", "Patient/p1"]
    assert rest.complete


async def test_since_keeps_only_recent_versions(harness: Any, gx: Any) -> None:
    h = harness
    old = datetime(2020, 1, 1, tzinfo=UTC)
    new = datetime.now(UTC)
    await h.apply(
        at(h, "Patient", "p1", old),
        at(h, "Observation", "then", old, subject=gx.ref("Patient/p1")),
        at(h, "Observation", "now", new, subject=gx.ref("Patient/p1")),
    )
    since = CompartmentRequest(("p1",), since=new - timedelta(seconds=1))
    assert await keys(h, since) == ["Observation/now"]
