"""``_text`` / ``_content`` clauses."""

from __future__ import annotations

from polyfhir_primary.adapters.sql.fulltext import fts5_query, tsquery
from polyfhir_primary.adapters.sql.search.fragments import Builder, Sql, member_of, type_filter
from polyfhir_primary.domain.search_plan import FullTextClause


def fulltext_sql(b: Builder, c: FullTextClause, alias: str) -> Sql:
    f = b.alias("f")
    types = b.types_of(alias)
    type_sql, type_args = type_filter(f"{f}.res_type", types)
    if b.dialect.name == "postgresql":
        where = f"{f}.tenant = ?{type_sql} AND {f}.{c.column} @@ to_tsquery('english', ?)"
        args = [b.tenant, *type_args, tsquery(c.query)]
    else:
        where = (
            f"{f}.tenant = ?{type_sql} AND {f}.docid IN"
            " (SELECT rowid FROM fts_resources WHERE fts_resources MATCH ?)"
        )
        args = [b.tenant, *type_args, fts5_query(c.column, c.query)]
    table = "fulltext" if b.dialect.name == "postgresql" else "fulltext_docs"
    return member_of(types, alias, f, f"{table} {f}", (where, args), False, b.probe)


def in_place(alias: str, c: FullTextClause) -> Sql:
    """``c`` tested on a document row ``alias`` itself (PostgreSQL), for a search that
    reads documents rather than finding them by word (``builder._walks``)."""
    return f"{alias}.{c.column} @@ to_tsquery('english', ?)", [tsquery(c.query)]
