"""A :class:`TextSearch` as an engine query (pure; OpenSearch and Elasticsearch share the DSL).

Semantics follow the primary store (``adapters/sql/fulltext.py``): clauses are
ANDed, the values of a clause ORed; each value is parsed by
``parse_text_query`` into OR-groups of AND-ed terms. A word matches its stem, a
phrase matches the words in order, ``word*`` matches words starting with it, a
negated term excludes. Every query filters by tenant, by type when given, and
leaves tombstones out.
"""

from __future__ import annotations

from typing import Any

from polyfhir_core.contracts.search_index import TextClause, TextField, TextSearch
from polyfhir_core.errors import BadRequest
from polyfhir_core.search import normalize
from polyfhir_core.search.fulltext import Term, parse_text_query
from polyfhir_search.domain.documents import PARAM_NAME, STRING, TOKEN_TEXT

MAX_LIMIT = 10_000


def _any(queries: list[dict[str, Any]]) -> dict[str, Any]:
    if len(queries) == 1:
        return queries[0]
    return {"bool": {"should": queries, "minimum_should_match": 1}}


def clause_field(clause: TextClause) -> str:
    if clause.field in (TextField.NARRATIVE, TextField.CONTENT):
        return clause.field.value
    if clause.param is None or not PARAM_NAME.match(clause.param):
        raise BadRequest(f"{clause.field.value} clause needs a search parameter name")
    group = TOKEN_TEXT if clause.field is TextField.TOKEN_TEXT else STRING
    return f"{group}.{clause.param}"


def _prefix_query(field: str, word: str) -> dict[str, Any]:
    word = normalize(word)
    return _any([{"prefix": {f"{field}.prefix": word}}, {"prefix": {field: word}}])


def term_query(field: str, term: Term, *, words_by_prefix: bool = False) -> dict[str, Any]:
    """``words_by_prefix`` (token ``:text``): a plain word also matches the words it
    starts (``diab`` finds "Type 2 diabetes mellitus"), as on the primary store."""
    if term.prefix:
        return _prefix_query(field, term.words[0])
    if len(term.words) > 1:
        return {"match_phrase": {field: " ".join(term.words)}}
    stem = {"match": {field: {"query": term.words[0], "operator": "and"}}}
    if words_by_prefix:
        return _any([stem, _prefix_query(field, term.words[0])])
    return stem


def value_query(field: str, value: str) -> dict[str, Any]:
    by_prefix = field.startswith(f"{TOKEN_TEXT}.")
    groups = []
    for group in parse_text_query(value):
        terms = [(t.negate, term_query(field, t, words_by_prefix=by_prefix)) for t in group]
        positive = [q for negate, q in terms if not negate]
        negative = [q for negate, q in terms if negate]
        groups.append({"bool": {"must": positive, "must_not": negative}})
    return _any(groups)


def clause_query(clause: TextClause) -> dict[str, Any]:
    if not clause.values:
        raise BadRequest(f"{clause.field.value} clause has no values")
    field = clause_field(clause)
    return _any([value_query(field, v) for v in clause.values])


def tenant_filter(tenant: str, resource_types: tuple[str, ...] | None = None) -> list[Any]:
    filters: list[Any] = [{"term": {"tenant": tenant}}]
    if resource_types is not None:
        filters.append({"terms": {"type": list(resource_types)}})
    return filters


def search_body(tenant: str, request: TextSearch) -> dict[str, Any]:
    """The search request body: ids of matching current resources, best first."""
    if not request.clauses:
        raise BadRequest("a text search needs at least one clause")
    if not 0 <= request.limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 0 and {MAX_LIMIT}")
    filters = tenant_filter(tenant, request.resource_types)
    filters.append({"term": {"deleted": False}})
    return {
        "query": {"bool": {"filter": filters, "must": [clause_query(c) for c in request.clauses]}},
        "size": request.limit,
        "track_total_hits": True,
        "_source": ["type", "rid"],
    }
