"""The advisor's workload shape: rates, role advice and SyncMode from four numbers."""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_core.config import parse_config
from polyfhir_core.errors import BadRequest
from polyfhir_core.planning.workload import WorkloadShape, suggest_for_shape

pytestmark = pytest.mark.unit

PRIMARY = {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"}
GRAPH = {"id": "graph", "role": "graph", "kind": "neo4j", "url": "neo4j://n:7687"}


def shape(**values: float) -> WorkloadShape:
    base = {"read_write_ratio": 4, "full_text_ratio": 0, "chain_ratio": 0, "queries_per_day": 0}
    return WorkloadShape.parse({**base, **values})


def test_rates_split_the_daily_queries_by_the_ratio() -> None:
    busy = shape(read_write_ratio=4, queries_per_day=432_000)
    assert (busy.reads_per_second, busy.writes_per_second) == (4.0, 1.0)
    writes_only = shape(read_write_ratio=0, queries_per_day=86_400)
    assert (writes_only.reads_per_second, writes_only.writes_per_second) == (0.0, 1.0)


def test_a_chain_heavy_workload_keeps_its_graph_and_stays_asynchronous() -> None:
    config = parse_config({"backends": [PRIMARY, GRAPH]})
    advice = suggest_for_shape(shape(chain_ratio=0.4, queries_per_day=1_000), config)
    graph = next(s for s in advice["suggestions"] if s["role"] == "graph")
    assert (graph["advice"], graph["share"]) == ("keep", 0.4)
    assert "cost model" in graph["reason"]
    assert advice["sync"]["mode"] == "asynchronous"


@pytest.mark.parametrize(
    "raw",
    [
        {"read_write_ratio": 1},
        {"read_write_ratio": -1, "full_text_ratio": 0, "chain_ratio": 0, "queries_per_day": 1},
        {"read_write_ratio": 1, "full_text_ratio": 0, "chain_ratio": 1.5, "queries_per_day": 1},
        {"read_write_ratio": True, "full_text_ratio": 0, "chain_ratio": 0, "queries_per_day": 1},
    ],
)
def test_a_bad_shape_is_a_bad_request(raw: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        WorkloadShape.parse(raw)
