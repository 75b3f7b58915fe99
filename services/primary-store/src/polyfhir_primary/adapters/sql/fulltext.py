"""Full-text documents and matching, per engine (FTS5 on SQLite, tsvector on PostgreSQL)."""

from __future__ import annotations

from polyfhir_core.search.fulltext import Term, TextQuery
from polyfhir_primary.adapters.sql.dialect import Conn, Dialect

_PG_UPSERT = (
    "INSERT INTO fulltext (tenant, res_type, res_id, narrative, content)"
    " VALUES (?, ?, ?, to_tsvector('english', ?), to_tsvector('english', ?))"
    " ON CONFLICT (tenant, res_type, res_id)"
    " DO UPDATE SET narrative = excluded.narrative, content = excluded.content"
)
_OWNER_WHERE = "tenant = ? AND res_type = ? AND res_id = ?"


async def write_document(
    conn: Conn, d: Dialect, owner: tuple[str, str, str], narrative: str | None, content: str | None
) -> None:
    """Replace the resource's documents; ``None`` (a delete) removes them."""
    if d.name == "postgresql":
        if content is None:
            await conn.execute(f"DELETE FROM fulltext WHERE {_OWNER_WHERE}", owner)
        else:
            await conn.execute(_PG_UPSERT, (*owner, narrative or "", content))
        return
    rows = await conn.fetch(f"SELECT docid FROM fulltext_docs WHERE {_OWNER_WHERE}", owner)
    if rows:
        await conn.execute("DELETE FROM fts_resources WHERE rowid = ?", (rows[0][0],))
        if content is None:
            await conn.execute("DELETE FROM fulltext_docs WHERE docid = ?", (rows[0][0],))
            return
        docid = rows[0][0]
    elif content is None:
        return
    else:
        await conn.execute(
            "INSERT INTO fulltext_docs (tenant, res_type, res_id) VALUES (?, ?, ?)", owner
        )
        docid = (await conn.fetch(f"SELECT docid FROM fulltext_docs WHERE {_OWNER_WHERE}", owner))[
            0
        ][0]
    await conn.execute(
        "INSERT INTO fts_resources (rowid, narrative, content) VALUES (?, ?, ?)",
        (docid, narrative or "", content),
    )


def _fts5_term(t: Term) -> str:
    text = '"' + " ".join(t.words) + '"'
    return text + " *" if t.prefix else text


def fts5_query(column: str, query: TextQuery) -> str:
    groups = []
    for group in query:
        positive = " AND ".join(_fts5_term(t) for t in group if not t.negate)
        negative = "".join(f" NOT {_fts5_term(t)}" for t in group if t.negate)
        groups.append(f"({positive}{negative})")
    return f"{{{column}}} : ({' OR '.join(groups)})"


def _ts_term(t: Term) -> str:
    body = " <-> ".join(f"'{w}'" for w in t.words)
    body = f"{body}:*" if t.prefix else (f"({body})" if len(t.words) > 1 else body)
    return f"!{body}" if t.negate else body


def tsquery(query: TextQuery) -> str:
    return " | ".join("(" + " & ".join(_ts_term(t) for t in group) + ")" for group in query)
