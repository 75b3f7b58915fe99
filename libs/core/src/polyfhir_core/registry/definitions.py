"""SearchParameter definitions: the parts of an R4 SearchParameter the server uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from polyfhir_core.errors import InvalidResource


class SearchParamType(StrEnum):
    NUMBER = "number"
    DATE = "date"
    STRING = "string"
    TOKEN = "token"  # noqa: S105 — a search type, not a secret
    REFERENCE = "reference"
    COMPOSITE = "composite"
    QUANTITY = "quantity"
    URI = "uri"
    SPECIAL = "special"


# Bases that make a parameter apply to every resource type.
UNIVERSAL_BASES = frozenset({"Resource", "DomainResource"})


@dataclass(frozen=True, slots=True)
class Component:
    """One part of a composite parameter: the component's definition URL and its
    FHIRPath expression, relative to each node the composite's expression selects."""

    definition: str
    expression: str


@dataclass(frozen=True, slots=True)
class SearchParamDef:
    code: str
    type: SearchParamType
    url: str
    base: tuple[str, ...]
    expression: str | None = None
    targets: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()
    modifiers: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()
    chains: tuple[str, ...] = ()
    custom: bool = field(default=False, compare=False)

    def applies_to(self, rtype: str) -> bool:
        return rtype in self.base or bool(UNIVERSAL_BASES.intersection(self.base))

    def expression_for(self, rtype: str) -> str | None:
        """The part of a shared expression that concerns ``rtype``.

        Official definitions share one expression across bases
        (``Condition.code | Observation.code | ...``); only the branches rooted
        at ``rtype`` (or at Resource/DomainResource) apply to it.
        """
        if self.expression is None:
            return None
        branches = split_union(self.expression)
        mine = [b for b in branches if root_of(b) in (rtype, *UNIVERSAL_BASES)]
        if not mine and len(self.base) == 1:
            # A branch written without its root (``name | alias``) is relative.
            mine = [b if root_of(b) == self.base[0] else f"{rtype}.{b}" for b in branches]
        return " | ".join(mine) or None


def root_of(branch: str) -> str:
    """``(Observation.value as Quantity)`` -> ``Observation``."""
    head = branch.lstrip("( ")
    end = 0
    while end < len(head) and (head[end].isalnum() or head[end] == "_"):
        end += 1
    return head[:end]


def split_union(expression: str) -> list[str]:
    """Split a FHIRPath expression on its top-level ``|`` (not inside () or quotes)."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(expression):
        if ch == "'" and (i == 0 or expression[i - 1] != "\\"):
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidResource(f"SearchParameter.{name} must be a list of strings")
    return tuple(value)


def definition_from_json(resource: dict[str, Any], *, custom: bool = False) -> SearchParamDef:
    """Build a definition from a SearchParameter resource (official or a tenant's own)."""
    code, url, kind = resource.get("code"), resource.get("url"), resource.get("type")
    if not isinstance(code, str) or not code:
        raise InvalidResource("SearchParameter.code is required")
    if not isinstance(url, str) or not url:
        raise InvalidResource("SearchParameter.url is required")
    try:
        param_type = SearchParamType(str(kind))
    except ValueError:
        raise InvalidResource(f"SearchParameter.type {kind!r} is not an R4 search type") from None
    expression = resource.get("expression")
    if expression is not None and not isinstance(expression, str):
        raise InvalidResource("SearchParameter.expression must be a string")
    base = _strings(resource.get("base"), "base")
    if not base:
        raise InvalidResource("SearchParameter.base is required")
    components = tuple(
        Component(str(c.get("definition", "")), str(c.get("expression", "")))
        for c in resource.get("component") or ()
        if isinstance(c, dict)
    )
    if param_type == SearchParamType.COMPOSITE and len(components) < 2:
        raise InvalidResource("a composite SearchParameter needs at least two components")
    return SearchParamDef(
        code=code,
        type=param_type,
        url=url,
        base=base,
        expression=expression,
        targets=_strings(resource.get("target"), "target"),
        components=components,
        modifiers=_strings(resource.get("modifier"), "modifier"),
        comparators=_strings(resource.get("comparator"), "comparator"),
        chains=_strings(resource.get("chain"), "chain"),
        custom=custom,
    )
