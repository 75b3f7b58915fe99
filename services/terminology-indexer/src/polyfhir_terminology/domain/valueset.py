"""A ValueSet ``compose`` as an expansion plan (pure).

Per the R4 spec (valueset.html#compose): the codes of a value set are the union
of its ``include`` sections minus the union of its ``exclude`` sections. One
section selects, from ``system`` (all of its concepts, or only the listed
``concept`` codes, narrowed by every ``filter`` — filters are ANDed), and
intersects that with every value set it imports (``valueSet``: the imports are
intersected with each other and with the system part). A section with only
``valueSet`` is the intersection of those value sets.

A ValueSet without ``compose`` but with an ``expansion`` is planned as the
explicit codes listed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyfhir_core.errors import BadRequest, NotSupported

Json = dict[str, Any]

FILTER_OPS = frozenset(
    {"=", "is-a", "descendent-of", "is-not-a", "regex", "in", "not-in", "generalizes", "exists"}
)
HIERARCHY_OPS = frozenset({"is-a", "descendent-of", "is-not-a", "generalizes"})
CODE_PROPERTIES = frozenset({"concept", "code"})


@dataclass(frozen=True, slots=True)
class ListedConcept:
    """A concept named in a compose section (its display and designations, if given)."""

    code: str
    display: str | None = None
    designations: tuple[Json, ...] = ()


@dataclass(frozen=True, slots=True)
class Filter:
    property: str
    op: str
    value: str

    def listed_values(self) -> tuple[str, ...]:
        """``in`` / ``not-in``: the comma-separated list."""
        return tuple(v.strip() for v in self.value.split(",") if v.strip())


@dataclass(frozen=True, slots=True)
class Section:
    """One include or exclude."""

    system: str | None
    version: str | None
    concepts: tuple[ListedConcept, ...]
    filters: tuple[Filter, ...]
    value_sets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExpansionPlan:
    includes: tuple[Section, ...]
    excludes: tuple[Section, ...]
    inactive: bool | None  # compose.inactive: None = the spec's default (included)

    @property
    def systems(self) -> frozenset[str]:
        return frozenset(s.system for s in (*self.includes, *self.excludes) if s.system)

    @property
    def value_sets(self) -> frozenset[str]:
        return frozenset(v for s in (*self.includes, *self.excludes) for v in s.value_sets)


def split_canonical(url: str) -> tuple[str, str | None]:
    """``http://x|1.0`` -> (``http://x``, ``1.0``)."""
    base, _, version = url.partition("|")
    return base, version or None


def _filter(raw: Json) -> Filter:
    prop, op, value = raw.get("property"), raw.get("op"), raw.get("value")
    if not isinstance(prop, str) or not isinstance(op, str) or not isinstance(value, str):
        raise BadRequest("a compose filter needs property, op and value")
    if op not in FILTER_OPS:
        raise NotSupported(f"the filter operator {op!r} is not supported")
    if op in HIERARCHY_OPS and prop not in CODE_PROPERTIES:
        raise NotSupported(f"the filter {op!r} applies to the property 'concept', not {prop!r}")
    if op == "exists" and value not in ("true", "false"):
        raise BadRequest(f"the exists filter takes true or false, not {value!r}")
    return Filter(prop, op, value)


def _concept(raw: Json) -> ListedConcept:
    code = raw.get("code")
    if not isinstance(code, str):
        raise BadRequest("a compose concept needs a code")
    return ListedConcept(code, raw.get("display"), tuple(raw.get("designation") or ()))


def _section(raw: Json) -> Section:
    system = raw.get("system")
    value_sets = tuple(v for v in raw.get("valueSet") or () if isinstance(v, str))
    concepts = tuple(_concept(c) for c in raw.get("concept") or ())
    filters = tuple(_filter(f) for f in raw.get("filter") or ())
    if not isinstance(system, str) and not value_sets:
        raise BadRequest("a compose include/exclude needs a system or a valueSet")
    if not isinstance(system, str) and (concepts or filters):
        raise BadRequest("compose concepts and filters need a system")
    version = raw.get("version")
    return Section(
        system if isinstance(system, str) else None,
        version if isinstance(version, str) else None,
        concepts,
        filters,
        value_sets,
    )


def expansion_plan(valueset: Json) -> ExpansionPlan:
    """The plan of a ValueSet; ``BadRequest`` / ``NotSupported`` for what cannot be expanded."""
    compose = valueset.get("compose")
    if isinstance(compose, dict):
        inactive = compose.get("inactive")
        return ExpansionPlan(
            tuple(_section(s) for s in compose.get("include") or ()),
            tuple(_section(s) for s in compose.get("exclude") or ()),
            inactive if isinstance(inactive, bool) else None,
        )
    return ExpansionPlan(_listed_expansion(valueset), (), None)


def _listed_expansion(valueset: Json) -> tuple[Section, ...]:
    by_system: dict[str, list[ListedConcept]] = {}
    stack = list((valueset.get("expansion") or {}).get("contains") or ())
    while stack:
        item = stack.pop(0)
        system, code = item.get("system"), item.get("code")
        if isinstance(system, str) and isinstance(code, str):
            by_system.setdefault(system, []).append(ListedConcept(code, item.get("display")))
        stack.extend(item.get("contains") or ())
    return tuple(Section(s, None, tuple(cs), (), ()) for s, cs in by_system.items())
