"""The criteria of a SearchPlan as SQL: clauses nest through ``criteria`` with fresh aliases.

Each clause is an uncorrelated ``IN (SELECT …)`` over its index table (see
``fragments``); chains and ``_has`` nest the same way. Where the dialect drives
a search by one clause (SQLite), the others become correlated probes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from polyfhir_primary.adapters.sql.dialect import Dialect
from polyfhir_primary.search.plan import (
    Clause,
    CompartmentClause,
    CompositeClause,
    Criteria,
    DateClause,
    FullTextClause,
    HasClause,
    IdClause,
    MissingClause,
    NumberClause,
    ReferenceClause,
    StringClause,
    TerminologyClause,
    TokenClause,
    UriClause,
)
from polyfhir_primary.search.sql import chains, composites, numbers, scalar, terminology, text
from polyfhir_primary.search.sql.fragments import Sql

_BUILDERS: dict[type[Any], Callable[[Any, Any, str], Sql]] = {
    IdClause: scalar.id_sql,
    DateClause: scalar.date_sql,
    TokenClause: scalar.token_sql,
    StringClause: scalar.string_sql,
    UriClause: scalar.uri_sql,
    MissingClause: scalar.missing_sql,
    NumberClause: numbers.number_sql,
    ReferenceClause: chains.reference_sql,
    HasClause: chains.has_sql,
    FullTextClause: text.fulltext_sql,
    TerminologyClause: terminology.terminology_sql,
    CompartmentClause: chains.compartment_sql,
    CompositeClause: composites.composite_sql,
}


class SqlBuilder:
    def __init__(self, dialect: Dialect, tenant: str) -> None:
        self.dialect = dialect
        self.tenant = tenant
        self._n = 0
        self._types: dict[str, tuple[str, ...] | None] = {}
        self.probe = False

    def types_of(self, alias: str) -> tuple[str, ...] | None:
        """The resource types the rows of ``alias`` can have (None: any)."""
        return self._types.get(alias)

    def alias(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def clause(self, clause: Clause, alias: str) -> Sql:
        return _BUILDERS[type(clause)](self, clause, alias)

    def criteria(self, criteria: Criteria, alias: str) -> Sql:
        driver = self.dialect.driving_clause(criteria.clauses)
        return self._criteria(criteria, alias, driver, typed=True)

    def tests(self, criteria: Criteria, alias: str) -> Sql:
        """Every clause of ``criteria`` as a test of the rows of ``alias``, whose types
        are ``criteria``'s (not tested again): memberships, or where the dialect
        probes (SQLite) probes."""
        every = -1 if self.dialect.probes(criteria.clauses) else None
        return self._criteria(criteria, alias, every, typed=False)

    def probing(self, criteria: Criteria, alias: str) -> Sql:
        """``criteria`` with every clause a correlated probe of the rows of ``alias``
        (for a statement that walks those rows in order, ``has_walk``)."""
        return self._criteria(criteria, alias, -1, typed=True)

    def driver(self, clauses: tuple[Clause, ...]) -> int:
        """The clause whose rows drive: the dialect's pick (SQLite's rank), else the first."""
        return self.dialect.driving_clause(clauses) or 0

    def _criteria(self, criteria: Criteria, alias: str, driver: int | None, typed: bool) -> Sql:
        parts: list[str] = []
        args: list[Any] = []
        self._types[alias] = criteria.resource_types
        if typed and criteria.resource_types is not None:
            marks = ", ".join("?" for _ in criteria.resource_types)
            parts.append(f"{alias}.res_type IN ({marks})")
            args += list(criteria.resource_types)
        outer = self.probe
        for n, clause in enumerate(criteria.clauses):
            self.probe = driver is not None and n != driver
            sql, a = self.clause(clause, alias)
            parts.append(sql)
            args += a
        self.probe = outer
        return ("(" + " AND ".join(parts) + ")" if parts else "1 = 1"), args

    def sole_clause(self, criteria: Criteria, alias: str) -> Sql:
        """The one clause of ``criteria`` alone, without its type test, as a
        membership (not a probe)."""
        self._types[alias] = criteria.resource_types
        outer, self.probe = self.probe, False
        try:
            return self.clause(criteria.clauses[0], alias)
        finally:
            self.probe = outer
