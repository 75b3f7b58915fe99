"""Pure parts of the graph-indexer: the edges of a resource, walks and their Cypher."""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_core.contracts.graph_index import ChainStep, ChainWalk, HasStep, HasWalk
from polyfhir_core.errors import BadRequest
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_graph.adapters.statements import walk_statement
from polyfhir_graph.domain.paths import Hop, chain_path, has_path
from polyfhir_graph.domain.records import Reference, record_for, reference_registry

pytestmark = pytest.mark.unit
REGISTRY = SearchParameterRegistry.default()


def test_local_references_become_edges_one_per_param_and_target(ev: Any) -> None:
    body = {
        "subject": {"reference": "Patient/p1"},
        "performer": [
            {"reference": "Practitioner/d1"},
            {"reference": "Practitioner/d1/_history/2"},
            {"reference": "https://elsewhere.example/fhir/Practitioner/x"},
            {"identifier": {"system": "urn:s", "value": "v"}},
            {"reference": "#contained"},
        ],
        "basedOn": [{"reference": "ServiceRequest/s1"}],
    }
    record = record_for(ev.change("t", "o1", 3, body, "Observation"), reference_registry(REGISTRY))
    assert set(record.references) >= {
        Reference("subject", "Patient", "p1"),
        Reference("performer", "Practitioner", "d1"),
        Reference("based-on", "ServiceRequest", "s1"),
    }
    assert all(r.target_id not in {"x", "contained"} for r in record.references)
    assert len(record.references) == len(set(record.references))
    assert (record.version, record.deleted) == (3, False)


def test_a_delete_is_a_tombstone_without_edges(ev: Any) -> None:
    record = record_for(ev.change("t", "o1", 4, None, "Observation"), REGISTRY)
    assert record.deleted and record.references == () and record.version == 4


def test_a_chain_walks_back_from_its_terminal_type() -> None:
    walk = ChainWalk(
        "Observation",
        (ChainStep("patient", "Patient"), ChainStep("organization", "Organization")),
        ("o1",),
    )
    path = chain_path(walk, REGISTRY)
    assert path.anchor_type == "Organization" and path.anchor_ids == ("o1",)
    # Observation.patient is subject restricted to Patients: the subject edges
    assert path.hops == (
        Hop(("organization",), "Patient", along=False),
        Hop(("subject",), "Observation", along=False),
    )


def test_has_walks_along_from_the_innermost_source() -> None:
    walk = HasWalk(
        "Patient", (HasStep("Observation", "subject"), HasStep("AuditEvent", "entity")), ("e1",)
    )
    path = has_path(walk, REGISTRY)
    assert path.anchor_type == "AuditEvent"
    assert path.hops == (
        Hop(("entity",), "Observation", along=True),
        Hop(("subject",), "Patient", along=True),
    )


def test_a_parameter_restricted_to_another_type_reads_no_edges() -> None:
    walk = ChainWalk("Observation", (ChainStep("patient", "Group"),), ("g1",))
    assert chain_path(walk, REGISTRY).hops == (Hop((), "Observation", along=False),)


@pytest.mark.parametrize("depth", [0, 9])
def test_walk_depth_is_bounded(depth: int) -> None:
    steps = tuple(ChainStep("subject", "Patient") for _ in range(depth))
    with pytest.raises(BadRequest):
        chain_path(ChainWalk("Observation", steps, ("p",)), REGISTRY)


def test_the_walk_statement_carries_types_and_codes_as_parameters_only() -> None:
    walk = ChainWalk("Observation", (ChainStep("subject", "Patient'}) DETACH DELETE n//"),), ("p",))
    query, params = walk_statement(chain_path(walk, REGISTRY))
    assert "DETACH" not in query and "Patient" not in query
    assert query.count("tenant = $tenant") == 1 and "tenant: $tenant" in query
    assert params["type1"] == "Observation"
    assert params["anchor_type"] == "Patient'}) DETACH DELETE n//"
