"""``_text`` / ``_content`` clauses."""

from __future__ import annotations

from polyfhir_primary.adapters.sql.fulltext import tsquery
from polyfhir_primary.search.plan import FullTextClause
from polyfhir_primary.search.sql.fragments import Builder, Sql, member_of, type_filter


def fulltext_sql(b: Builder, c: FullTextClause, alias: str) -> Sql:
    f = b.alias("f")
    types = b.types_of(alias)
    type_sql, type_args = type_filter(f"{f}.res_type", types)
    table, words, words_args = b.dialect.fulltext_membership(f, c)
    where = f"{f}.tenant = ?{type_sql} AND {words}"
    args = [b.tenant, *type_args, *words_args]
    return member_of(types, alias, f, f"{table} {f}", (where, args), False, b.probe)


def in_place(alias: str, c: FullTextClause) -> Sql:
    """``c`` tested on a document row ``alias`` itself (PostgreSQL), for a search that
    reads documents rather than finding them by word (``walk.fulltext_walks``)."""
    return f"{alias}.{c.column} @@ to_tsquery('english', ?)", [tsquery(c.query)]
