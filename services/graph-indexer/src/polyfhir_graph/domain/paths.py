"""Walks through the reference graph, from the anchor ids to the searched type (pure).

Both query shapes the graph answers are one path: start at resources whose ids
the primary found (the *anchor*: a chain's terminal type, a ``_has``'s
innermost source type), follow one reference per hop — against the edge for a
chain (who references these?), along it for ``_has`` (whom do these
reference?) — and return the ids reached at the searched type.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyfhir_core.contracts.graph_index import ChainWalk, HasWalk
from polyfhir_core.errors import BadRequest
from polyfhir_core.registry import SearchParameterRegistry

MAX_HOPS = 8


@dataclass(frozen=True, slots=True)
class Hop:
    """Follow edges carrying one of ``params`` to resources of ``to_type``.

    ``along``: from source to target (``_has``); otherwise from target back to
    source (a chain). ``params`` are the edge codes a search parameter reads:
    its own, or, for a parameter whose rows are another's (``patient`` of
    Observation is ``subject`` restricted to Patient targets), that one's.
    """

    params: tuple[str, ...]
    to_type: str
    along: bool


def edge_params(
    registry: SearchParameterRegistry, source_type: str, code: str, target_type: str
) -> tuple[str, ...]:
    """The edge codes ``code`` of ``source_type`` reads when it points at ``target_type``
    (none when the parameter is restricted to another target type)."""
    rows = registry.rows(source_type, code)
    if rows.target_type is not None and rows.target_type != target_type:
        return ()
    return rows.params


@dataclass(frozen=True, slots=True)
class GraphPath:
    anchor_type: str
    anchor_ids: tuple[str, ...]
    hops: tuple[Hop, ...]

    @property
    def result_type(self) -> str:
        return self.hops[-1].to_type


def _check_depth(n: int) -> None:
    if not 1 <= n <= MAX_HOPS:
        raise BadRequest(f"a graph walk has 1 to {MAX_HOPS} steps, got {n}")


def chain_path(walk: ChainWalk, registry: SearchParameterRegistry) -> GraphPath:
    """``Observation?subject:Patient.organization.name=x``: from the Organizations back
    through ``organization`` to Patients, then back through ``subject`` to Observations."""
    steps = walk.steps
    _check_depth(len(steps))
    types = [walk.resource_type, *(s.target_type for s in steps)]
    hops = tuple(
        Hop(edge_params(registry, types[i], steps[i].param, types[i + 1]), types[i], along=False)
        for i in reversed(range(len(steps)))
    )
    return GraphPath(types[-1], walk.target_ids, hops)


def has_path(walk: HasWalk, registry: SearchParameterRegistry) -> GraphPath:
    """``Patient?_has:Observation:patient:_has:AuditEvent:entity:agent=x``: from the
    AuditEvents along ``entity`` to Observations, then along ``patient`` to Patients."""
    steps = walk.steps
    _check_depth(len(steps))
    types = [walk.resource_type, *(s.source_type for s in steps)]
    hops = tuple(
        Hop(edge_params(registry, types[i + 1], steps[i].param, types[i]), types[i], along=True)
        for i in reversed(range(len(steps)))
    )
    return GraphPath(types[-1], walk.source_ids, hops)
