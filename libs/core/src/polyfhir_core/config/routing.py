"""Routing rules: which backend serves which kind of query part."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from polyfhir_core.config._model import ConfigModel
from polyfhir_core.config.roles import Capability

PRIMARY_ALIAS = "primary"
"""A rule target or fallback naming whichever backend is the enabled primary."""


class QueryFeature(StrEnum):
    """A feature the analyzer detects in a search (one query part per feature)."""

    BASIC = "basic"
    CHAIN = "chain"
    HAS = "has"
    FULL_TEXT = "full_text"
    TERMINOLOGY = "terminology"
    INCLUDE = "include"
    INCLUDE_ITERATE = "include_iterate"
    SORT = "sort"

    @property
    def required_capabilities(self) -> frozenset[Capability]:
        """A backend serving this feature needs at least one of these capabilities."""
        return _SERVED_BY[self]


_SERVED_BY: dict[QueryFeature, frozenset[Capability]] = {
    QueryFeature.BASIC: frozenset({Capability.BASIC_SEARCH}),
    QueryFeature.CHAIN: frozenset({Capability.CHAINED_SEARCH}),
    QueryFeature.HAS: frozenset({Capability.REVERSE_CHAINING}),
    QueryFeature.FULL_TEXT: frozenset({Capability.FULL_TEXT}),
    QueryFeature.TERMINOLOGY: frozenset({Capability.CODE_HIERARCHY, Capability.VALUESET_EXPANSION}),
    QueryFeature.INCLUDE: frozenset({Capability.INCLUDE}),
    QueryFeature.INCLUDE_ITERATE: frozenset({Capability.INCLUDE, Capability.REFERENCE_TRAVERSAL}),
    QueryFeature.SORT: frozenset({Capability.SORT}),
}

_ResourceType = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z]{1,63}$")]
_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class RouteMatch(ConfigModel):
    """Which query parts a rule applies to; an empty criterion matches anything."""

    features: frozenset[QueryFeature] = frozenset()
    resource_types: frozenset[_ResourceType] = frozenset()
    parameters: frozenset[_Name] = frozenset()

    def matches(
        self, feature: QueryFeature, resource_type: str, parameters: Collection[str] = ()
    ) -> bool:
        return (
            (not self.features or feature in self.features)
            and (not self.resource_types or resource_type in self.resource_types)
            and (not self.parameters or not self.parameters.isdisjoint(parameters))
        )


class RoutingRule(ConfigModel):
    """Send matching query parts to ``target``; when it is unhealthy or lagging, to ``fallback``.

    ``target`` and ``fallback`` are backend ids, or ``"primary"`` for the enabled
    primary. ``fallback = None`` fails the search (503) instead of falling back.
    Rules with a higher ``priority`` are tried first; ties keep file order. A rule
    is a preference: the router still skips a target lacking the capability.
    """

    name: _Name
    match: RouteMatch = Field(default_factory=RouteMatch)
    target: _Name
    priority: int = 0
    fallback: _Name | None = PRIMARY_ALIAS

    def matches(
        self, feature: QueryFeature, resource_type: str, parameters: Collection[str] = ()
    ) -> bool:
        return self.match.matches(feature, resource_type, parameters)


def by_priority(rules: Iterable[RoutingRule]) -> Sequence[RoutingRule]:
    """Highest priority first, file order among equals (``sorted`` is stable)."""
    return sorted(rules, key=lambda rule: -rule.priority)
