"""A search compiled against what the primary store can answer (pure).

``compile`` turns a :class:`~polyfhir_core.search.SearchQuery` into a
:class:`SearchPlan`; ``sql`` turns the plan into statements. A plan names
parameters and their types, never tables or columns (``sql/schema.py`` maps them). Every
clause is ANDed; the alternatives inside a clause are ORed. Chains and
``_has`` nest a :class:`Criteria` that is evaluated against the referenced
(or referring) resource.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from polyfhir_core.registry import SearchParamType
from polyfhir_core.search.dates import DateRange
from polyfhir_core.search.fulltext import TextQuery

# The parameter(s) whose index rows a clause reads: one code, or several when the
# searched parameter's rows are the union of others' (``combo-code``: the rows of
# ``code`` and ``component-code``; ``polyfhir_core.registry.Storage``).
Params = str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IdClause:
    ids: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class DateClause:
    """``param`` None means the resource's own ``meta.lastUpdated`` column."""

    param: Params | None
    ranges: tuple[tuple[str, DateRange], ...]  # (prefix, range)


ANY = "\x00any"  # token system wildcard: ``code`` alone matches any system


@dataclass(frozen=True, slots=True)
class TokenMatch:
    system: str | None  # ANY, None (explicitly no system: ``|code``) or a system
    code: str | None  # None: ``system|`` (any code in the system)


@dataclass(frozen=True, slots=True)
class TokenClause:
    param: Params
    matches: tuple[TokenMatch, ...]
    negate: bool = False
    text: bool = False  # :text — match against display/text (normalised prefix)


@dataclass(frozen=True, slots=True)
class TerminologyClause:
    """``:below``/``:above`` (codes with optional system) or ``:in``/``:not-in`` (ValueSet urls)."""

    param: Params
    op: str  # below | above | in | not-in
    codes: tuple[TokenMatch, ...] = ()
    valuesets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StringClause:
    param: Params
    values: tuple[str, ...]  # normalised for start/contains, as given for exact
    mode: str = "start"  # start | exact | contains


@dataclass(frozen=True, slots=True)
class NumberMatch:
    prefix: str
    value: Decimal
    low: Decimal  # implicit precision range of the parameter value
    high: Decimal
    system: str | None = None  # quantity only
    code: str | None = None  # quantity only: matches code, or unit when no system


@dataclass(frozen=True, slots=True)
class NumberClause:
    param: Params
    matches: tuple[NumberMatch, ...]
    quantity: bool = False


@dataclass(frozen=True, slots=True)
class UriClause:
    param: Params
    values: tuple[str, ...]
    mode: str = "exact"  # exact | below | above


@dataclass(frozen=True, slots=True)
class ReferenceMatch:
    target_type: str | None
    target_id: str | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ReferenceClause:
    """``param`` references one of ``matches``; with ``chain``, a target
    (of ``target_types``) that satisfies the chained criteria."""

    param: str
    matches: tuple[ReferenceMatch, ...] = ()
    target_types: tuple[str, ...] = ()
    chain: Criteria | None = None
    identifier: tuple[TokenMatch, ...] = ()  # :identifier


@dataclass(frozen=True, slots=True)
class HasClause:
    """``_has:Type:param:...``: some ``source_type`` resource whose ``param``
    references this one satisfies ``criteria``."""

    source_type: str
    param: str
    criteria: Criteria
    target_type: str | None = None  # ``param`` restricted to references of this type


@dataclass(frozen=True, slots=True)
class FullTextClause:
    column: str  # "narrative" (_text) | "content" (_content)
    query: TextQuery


@dataclass(frozen=True, slots=True)
class MissingClause:
    kind: SearchParamType  # the parameter's type: its rows are of that type
    param: Params
    missing: bool
    target_type: str | None = None  # only rows referencing this type count (``Storage``)


@dataclass(frozen=True, slots=True)
class CompartmentClause:
    """The resource is in compartment ``target_type/target_id``: one of ``params``
    references it, or it is the compartment's own resource (``include_self``)."""

    params: tuple[str, ...]
    target_type: str
    target_id: str
    include_self: bool = False


ComponentClause = TokenClause | NumberClause | DateClause | StringClause


@dataclass(frozen=True, slots=True)
class CompositeClause:
    """``a$b`` (OR over ``alternatives``): one element of the resource (the rows with one
    ``elem``) matches every component clause; component clause ``n`` is on its
    ``param`` (``<param>$<n>``, or another parameter's rows), whose type is
    ``kinds[n]``. With ``root`` the element is the resource itself: any rows of
    the resource will do."""

    param: str
    kinds: tuple[SearchParamType, ...]
    alternatives: tuple[tuple[ComponentClause, ...], ...]
    root: bool = False


Clause = (
    IdClause
    | DateClause
    | TokenClause
    | StringClause
    | NumberClause
    | UriClause
    | ReferenceClause
    | HasClause
    | MissingClause
    | FullTextClause
    | TerminologyClause
    | CompartmentClause
    | CompositeClause
)


@dataclass(frozen=True, slots=True)
class Criteria:
    """Clauses that all hold for one resource of one of ``resource_types``."""

    resource_types: tuple[str, ...] | None
    clauses: tuple[Clause, ...] = ()


@dataclass(frozen=True, slots=True)
class SortField:
    """A field of the resource itself (``_type``, ``_id``, ``_lastUpdated``), or (with
    ``param``, whose rows are of type ``kind``) that parameter's values: ascending
    sorts by the lowest value, descending by the highest; missing last."""

    name: str  # the resource field, or the searched parameter's code
    descending: bool = False
    param: Params | None = None
    kind: SearchParamType | None = None
    target_type: str | None = None  # only rows referencing this type (``Storage``)


DEFAULT_SORT = (SortField("_type"), SortField("_id"))


@dataclass(frozen=True, slots=True)
class SearchPlan:
    resource_types: tuple[str, ...] | None  # None: every type (system search)
    clauses: tuple[Clause, ...] = ()
    limit: int = 50
    offset: int = 0
    sort: tuple[SortField, ...] = field(default=DEFAULT_SORT)
    count_total: bool = False
    estimate_total: bool = False  # _total=estimate: exact up to a cap, then an estimate

    @property
    def criteria(self) -> Criteria:
        return Criteria(self.resource_types, self.clauses)
