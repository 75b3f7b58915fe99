"""``_text`` / ``_content`` clauses."""

from __future__ import annotations

from polyfhir_primary.adapters.sql.fulltext import fts5_query, tsquery
from polyfhir_primary.adapters.sql.search.fragments import Builder, Sql, owner
from polyfhir_primary.domain.search_plan import FullTextClause


def fulltext_sql(b: Builder, c: FullTextClause, alias: str) -> Sql:
    f = b.alias("f")
    if b.dialect.name == "postgresql":
        return (
            f"EXISTS (SELECT 1 FROM fulltext {f} WHERE {owner(f, alias)}"
            f" AND {f}.{c.column} @@ to_tsquery('english', ?))",
            [tsquery(c.query)],
        )
    return (
        f"EXISTS (SELECT 1 FROM fulltext_docs {f} WHERE {owner(f, alias)} AND {f}.docid IN"
        " (SELECT rowid FROM fts_resources WHERE fts_resources MATCH ?))",
        [fts5_query(c.column, c.query)],
    )
