"""Chains and ``_has`` as graph walks: what the primary filters, what the graph walks (pure).

A chain ``Observation?subject:Patient.organization.name=Acme`` splits into

- the *terminal* filter ``Organization?name=Acme``, evaluated by the primary
  (where it is cheapest: it has the indexes), yielding target ids;
- the *walk* back from those Organizations through ``organization`` to
  Patients and through ``subject`` to Observations, answered by the graph
  (:class:`polyfhir_core.contracts.graph_index.ChainWalk`);
- the rest of the query, applied by the primary on the candidate ids (``_id``).

``_has`` is the mirror image: ``Patient?_has:Observation:subject:code=x``
filters Observations on the primary, and the graph walks along ``subject`` to
Patients (:class:`~polyfhir_core.contracts.graph_index.HasWalk`); nested
``_has`` adds steps. The terminal may itself be a chain (a chain inside a
``_has``): the primary evaluates it as it would anyway.

A step whose target type is ambiguous (``subject.name`` on Observation:
Patient, Group, Device or Location) matches when *any* of its targets matches
(FHIR), so :func:`walk_alternatives` makes one typed walk per target type whose
terminal parameter exists, and the executor unites their candidates (the
``union`` merge strategy) before the parameters are intersected. A step with no
target, or more than :data:`MAX_ALTERNATIVES` combinations, is not split: the
primary answers the query.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from polyfhir_core.contracts.graph_index import ChainStep, ChainWalk, HasStep, HasWalk
from polyfhir_core.planning.analyzer import QueryPart
from polyfhir_core.registry import SearchParameterRegistry, SearchParamType
from polyfhir_core.search import SearchParam, SearchQuery
from polyfhir_core.search.query import unescape

MAX_STEPS = 8
MAX_ALTERNATIVES = 16


def walk_depth(part: QueryPart) -> int:
    """The most reference steps a walk of the part takes on the graph: the ``_has`` levels
    of a ``_has`` (a chain in its terminal is the primary's), the links of a chain."""
    return max(
        (
            p.raw_name.count("_has:") if p.name == "_has" else p.raw_name.count(".")
            for p in part.params
        ),
        default=0,
    )


@dataclass(frozen=True, slots=True)
class ReferenceWalk:
    """One chain or ``_has`` occurrence, split into terminal filter and walk."""

    param: SearchParam  # the occurrence in the query
    kind: Literal["chain", "has"]
    terminal_type: str
    terminal: SearchParam  # evaluated by the primary on ``terminal_type``
    chain: tuple[ChainStep, ...] = ()
    has: tuple[HasStep, ...] = ()

    @property
    def depth(self) -> int:
        return len(self.chain) + len(self.has)

    def terminal_query(self, limit: int) -> SearchQuery:
        """The primary query yielding the anchor ids (only ids are needed)."""
        return SearchQuery(self.terminal_type, (self.terminal,), count=limit, elements=("id",))

    def walk(
        self, resource_type: str, anchor_ids: tuple[str, ...], limit: int
    ) -> ChainWalk | HasWalk:
        if self.kind == "chain":
            return ChainWalk(resource_type, self.chain, anchor_ids, limit)
        return HasWalk(resource_type, self.has, anchor_ids, limit)


def _target(
    registry: SearchParameterRegistry, rtype: str, code: str, type_modifier: str | None
) -> str | None:
    """The one type a reference step points at, or None (not a reference, or ambiguous)."""
    definition = registry.get(rtype, code)
    if definition is None or definition.type is not SearchParamType.REFERENCE:
        return None
    restricted = registry.rows(rtype, code).target_type
    if type_modifier:
        if restricted is not None and restricted != type_modifier:
            return None
        if definition.targets and type_modifier not in definition.targets:
            return None
        return type_modifier
    if restricted is not None:
        return restricted
    targets = tuple(definition.targets)
    return targets[0] if len(targets) == 1 else None


def _targets(
    registry: SearchParameterRegistry, rtype: str, code: str, type_modifier: str | None
) -> tuple[str, ...]:
    """Every type a reference step may point at (one when typed or restricted)."""
    single = _target(registry, rtype, code, type_modifier)
    if single is not None:
        return (single,)
    definition = registry.get(rtype, code)
    if type_modifier or definition is None or definition.type is not SearchParamType.REFERENCE:
        return ()
    return tuple(definition.targets)


def _typed_paths(
    registry: SearchParameterRegistry, rtype: str, links: list[str]
) -> list[tuple[ChainStep, ...]] | None:
    """Every typed path the links can take (None: more than ``MAX_ALTERNATIVES``)."""
    paths: list[tuple[tuple[ChainStep, ...], str]] = [((), rtype)]
    for link in links:
        code, _, type_modifier = link.partition(":")
        paths = [
            ((*steps, ChainStep(code, target)), target)
            for steps, current in paths
            for target in _targets(registry, current, code, type_modifier or None)
        ]
        if len(paths) > MAX_ALTERNATIVES:
            return None
    return [steps for steps, _ in paths]


def _terminal(raw: str, values: tuple[str, ...]) -> SearchParam:
    name, _, modifier = raw.partition(":")
    return SearchParam(name, values, modifier or None)


def chain_walk(
    rtype: str, param: SearchParam, registry: SearchParameterRegistry
) -> ReferenceWalk | None:
    """``subject:Patient.organization.name=x`` on ``rtype``, or None when not walkable."""
    *links, last = param.raw_name.split(".")
    if not links or len(links) > MAX_STEPS or last.startswith("_has"):
        return None
    steps: list[ChainStep] = []
    current = rtype
    for link in links:
        code, _, type_modifier = link.partition(":")
        target = _target(registry, current, code, type_modifier or None)
        if target is None:
            return None
        steps.append(ChainStep(code, target))
        current = target
    terminal = _terminal(last, param.values)
    if not terminal.name.startswith("_") and registry.get(current, terminal.name) is None:
        return None
    return ReferenceWalk(param, "chain", current, terminal, chain=tuple(steps))


def walk_alternatives(
    rtype: str, param: SearchParam, registry: SearchParameterRegistry
) -> tuple[ReferenceWalk, ...] | None:
    """The typed walks a chain or ``_has`` may take, any of which matches (FHIR's OR over
    the targets of an untyped step); None when it cannot be walked."""
    if param.name == "_has":
        walk = has_walk(rtype, param, registry)
        return (walk,) if walk is not None else None
    *links, last = param.raw_name.split(".")
    if not links or len(links) > MAX_STEPS or last.startswith("_has"):
        return None
    paths = _typed_paths(registry, rtype, links)
    if not paths:
        return None
    terminal = _terminal(last, param.values)
    walks = tuple(
        ReferenceWalk(param, "chain", steps[-1].target_type, terminal, chain=steps)
        for steps in paths
        if terminal.name.startswith("_") or registry.get(steps[-1].target_type, terminal.name)
    )
    return walks or None


def has_walk(
    rtype: str, param: SearchParam, registry: SearchParameterRegistry
) -> ReferenceWalk | None:
    """``_has:Observation:subject[:_has:...]:code=x`` on ``rtype``, or None when not walkable."""
    rest = param.modifier or ""
    steps: list[HasStep] = []
    current = rtype
    while True:
        parts = rest.split(":", 2)
        if len(parts) != 3 or len(steps) >= MAX_STEPS:
            return None
        source, code, rest = parts
        if _target(registry, source, code, current) != current:
            return None
        steps.append(HasStep(source, code))
        current = source
        if not rest.startswith("_has:"):
            break
        rest = rest[len("_has:") :]
    return ReferenceWalk(param, "has", current, _terminal(rest, param.values), has=tuple(steps))


def reference_walks(
    rtype: str | None, params: tuple[SearchParam, ...], registry: SearchParameterRegistry
) -> tuple[ReferenceWalk, ...] | None:
    """The chains and ``_has`` among ``params`` of a type search as walks; None when any
    one is not walkable (then the primary answers them)."""
    if rtype is None:
        return None
    walks: list[ReferenceWalk] = []
    for p in params:
        walk = has_walk(rtype, p, registry) if p.name == "_has" else chain_walk(rtype, p, registry)
        if walk is None:
            return None
        walks.append(walk)
    return tuple(walks) or None


def walk_groups(
    rtype: str | None, params: tuple[SearchParam, ...], registry: SearchParameterRegistry
) -> tuple[tuple[ReferenceWalk, ...], ...] | None:
    """Per chain or ``_has`` parameter its alternatives (united), the groups intersected;
    None when any one cannot be walked."""
    if rtype is None:
        return None
    groups = []
    for p in params:
        alternatives = walk_alternatives(rtype, p, registry)
        if alternatives is None:
            return None
        groups.append(alternatives)
    return tuple(groups) or None


def candidates_query(
    query: SearchQuery, walks: tuple[ReferenceWalk, ...], ids: list[str]
) -> SearchQuery:
    """The query without the walked parameters (and ``_id``), restricted to ``ids`` ∩ its ``_id``.

    ``ids`` must not be empty: an empty ``_id`` is no FHIR query (the caller
    answers an empty page itself).
    """
    walked = {w.param for w in walks}
    own: list[str] | None = None
    for p in query.params:
        if p.name == "_id" and p.modifier is None:
            values = [unescape(v) for v in p.values]
            own = values if own is None else [v for v in own if v in values]
    allowed = ids if own is None else [i for i in ids if i in own]
    kept = tuple(
        p for p in query.params if p not in walked and not (p.name == "_id" and p.modifier is None)
    )
    return replace(query, params=(*kept, SearchParam("_id", tuple(allowed))))
