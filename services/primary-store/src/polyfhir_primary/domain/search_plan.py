"""A search compiled against what the primary store can answer (pure).

The service layer turns a :class:`~polyfhir_core.search.SearchQuery` into a
:class:`SearchPlan`; each SQL dialect turns the plan into one statement.
Every clause is ANDed; the alternatives inside a clause are ORed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from polyfhir_core.search.dates import DateRange


@dataclass(frozen=True, slots=True)
class IdClause:
    ids: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class DateClause:
    """``param`` None means the resource's own ``meta.lastUpdated`` column."""

    param: str | None
    ranges: tuple[tuple[str, DateRange], ...]  # (prefix, range)


ANY = "\x00any"  # token system wildcard: ``code`` alone matches any system


@dataclass(frozen=True, slots=True)
class TokenMatch:
    system: str | None  # ANY, None (explicitly no system: ``|code``) or a system
    code: str | None  # None: ``system|`` (any code in the system)


@dataclass(frozen=True, slots=True)
class TokenClause:
    param: str
    matches: tuple[TokenMatch, ...]
    negate: bool = False


Clause = IdClause | DateClause | TokenClause


@dataclass(frozen=True, slots=True)
class SortField:
    column: str  # "last_updated" | "res_id" | "res_type"
    descending: bool = False


@dataclass(frozen=True, slots=True)
class SearchPlan:
    resource_types: tuple[str, ...] | None  # None: every type (system search)
    clauses: tuple[Clause, ...] = ()
    limit: int = 50
    offset: int = 0
    sort: tuple[SortField, ...] = field(
        default=(SortField("last_updated"), SortField("res_type"), SortField("res_id"))
    )
    count_total: bool = False
