"""A SearchPlan evaluated in memory over index values (for the primary store's fakes).

It answers the clauses conditional interactions and bundle tests use: ``_id``,
tokens (with ``:not``), strings (prefix, ``:exact``, ``:contains``), uris and
references to given resources. Any other clause fails the test loudly
(``UnsupportedClause``) rather than matching wrongly: search semantics are
tested against the real engines in ``tests/integration``.
"""

from __future__ import annotations

from polyfhir_core.indexing.index_values import IndexValues, TokenValue
from polyfhir_core.resources import StoredResource
from polyfhir_primary.search.plan import (
    ANY,
    Clause,
    IdClause,
    Params,
    ReferenceClause,
    SearchPlan,
    StringClause,
    TokenClause,
    TokenMatch,
    UriClause,
)


class UnsupportedClause(AssertionError):
    """The fake does not evaluate this clause; test it over a real engine."""


def _params(param: Params) -> tuple[str, ...]:
    return (param,) if isinstance(param, str) else param


def _token_matches(row: TokenValue, m: TokenMatch) -> bool:
    if m.code is not None and row.code != m.code:
        return False
    if m.system is None:
        return row.system is None
    return m.system == ANY or row.system == m.system


def _string_matches(value: str, exact: str | None, c: StringClause) -> bool:
    if c.mode == "exact":
        return exact in c.values
    if c.mode == "contains":
        return any(v in value for v in c.values)
    return any(value.startswith(v) for v in c.values)


def _matches(clause: Clause, stored: StoredResource, values: IndexValues) -> bool:
    if isinstance(clause, IdClause):
        return (stored.id in clause.ids) != clause.negate
    if isinstance(clause, TokenClause) and not clause.text:
        rows = [t for t in values.tokens if t.param in _params(clause.param)]
        found = any(_token_matches(t, m) for t in rows for m in clause.matches)
        return found != clause.negate
    if isinstance(clause, StringClause):
        params = _params(clause.param)
        strings = [s for s in values.strings if s.param in params]
        return any(_string_matches(s.value, s.exact, clause) for s in strings)
    if isinstance(clause, UriClause) and clause.mode == "exact":
        params = _params(clause.param)
        return any(u.value in clause.values for u in values.uris if u.param in params)
    if isinstance(clause, ReferenceClause) and clause.chain is None and clause.matches:
        refs = [r for r in values.references if r.param == clause.param]
        return any(
            (m.url is not None and r.url == m.url)
            or (
                m.url is None
                and r.target_id == m.target_id
                and m.target_type in (None, r.target_type)
            )
            for r in refs
            for m in clause.matches
        )
    raise UnsupportedClause(f"the in-memory store does not evaluate {clause!r}")


def matches(plan: SearchPlan, stored: StoredResource, values: IndexValues) -> bool:
    """Whether the live resource ``stored`` (with its index ``values``) satisfies ``plan``."""
    types = plan.resource_types
    if types is not None and stored.resource_type not in types:
        return False
    return all(_matches(c, stored, values) for c in plan.clauses)
