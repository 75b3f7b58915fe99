"""The advisor's workload shape (the seed design's): read/write ratio, full-text and chain
ratios, queries per day -> which secondaries pay off and which SyncMode fits. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyfhir_core.config import CompositeConfig, QueryFeature
from polyfhir_core.config.roles import BackendRole
from polyfhir_core.errors import BadRequest
from polyfhir_core.planning.advisor import role_suggestion

SECONDS_PER_DAY = 86_400
SHAPE_KEYS = ("read_write_ratio", "full_text_ratio", "chain_ratio", "queries_per_day")


@dataclass(frozen=True, slots=True)
class WorkloadShape:
    """``read_write_ratio``: reads per write; the ratios are shares of the reads (0..1);
    ``queries_per_day``: reads and writes together."""

    read_write_ratio: float
    full_text_ratio: float
    chain_ratio: float
    queries_per_day: float
    terminology_ratio: float = 0.0

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> WorkloadShape:
        unknown = set(raw) - {*SHAPE_KEYS, "terminology_ratio"}
        if unknown:
            raise BadRequest(f'"workload": unknown keys {sorted(unknown)}')
        values: dict[str, float] = {}
        for key in (*SHAPE_KEYS, "terminology_ratio"):
            value = raw.get(key, 0.0 if key == "terminology_ratio" else None)
            if value is None:
                raise BadRequest(f'"workload" needs {", ".join(SHAPE_KEYS)}')
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise BadRequest(f'"workload.{key}" must be a number >= 0')
            if key.endswith("_ratio") and key != "read_write_ratio" and value > 1:
                raise BadRequest(f'"workload.{key}" is a share of the reads, 0 to 1')
            values[key] = float(value)
        return cls(**values)

    @property
    def reads_per_second(self) -> float:
        share = self.read_write_ratio / (self.read_write_ratio + 1) if self.read_write_ratio else 0
        return self.queries_per_day * share / SECONDS_PER_DAY

    @property
    def writes_per_second(self) -> float:
        return self.queries_per_day / (self.read_write_ratio + 1) / SECONDS_PER_DAY


def suggest_for_shape(shape: WorkloadShape, config: CompositeConfig) -> dict[str, Any]:
    """Per secondary role: add / keep / optional / not_needed; and a SyncMode."""
    shares = {
        QueryFeature.FULL_TEXT: shape.full_text_ratio,
        QueryFeature.CHAIN: shape.chain_ratio,
        QueryFeature.TERMINOLOGY: shape.terminology_ratio,
    }
    suggestions = [
        role_suggestion(role, config, shares)
        for role in (BackendRole.SEARCH, BackendRole.GRAPH, BackendRole.TERMINOLOGY)
    ]
    return {
        "workload": {
            "readsPerSecond": round(shape.reads_per_second, 3),
            "writesPerSecond": round(shape.writes_per_second, 3),
        },
        "featureShares": {f.value: round(s, 4) for f, s in shares.items()},
        "suggestions": suggestions,
        "sync": _sync_advice(shape),
    }


def _sync_advice(shape: WorkloadShape) -> dict[str, Any]:
    writes = shape.writes_per_second
    if shape.full_text_ratio >= 0.05 and shape.read_write_ratio >= 1:
        return {
            "mode": {"kind": "hybrid", "sync_for_search": True},
            "reason": (
                f"reads outnumber writes ({shape.read_write_ratio:g}:1) and "
                f"{shape.full_text_ratio:.0%} of them are full text: writes wait for the "
                "search index (read-your-writes there), the other secondaries catch up"
            ),
        }
    return {
        "mode": "asynchronous",
        "reason": (
            f"~{writes:.1f} writes/s return once the primary committed; reads routed to a "
            "secondary wait up to max_read_lag_ms for it, else the primary answers"
        ),
    }
