"""Full-text documents and matching, per engine (FTS5 on SQLite, tsvector on PostgreSQL)."""

from __future__ import annotations

from typing import Any

from polyfhir_core.search.fulltext import Term, TextQuery
from polyfhir_primary.adapters.sql.pending import OWNER_WHERE, Owner, Phase

_PG_UPSERT = (
    "INSERT INTO fulltext (tenant, res_type, res_id, narrative, content)"
    " VALUES (?, ?, ?, to_tsvector('english', ?), to_tsvector('english', ?))"
    " ON CONFLICT (tenant, res_type, res_id)"
    " DO UPDATE SET narrative = excluded.narrative, content = excluded.content"
)
# SQLite: FTS5 rows are keyed by the docid of the owner's fulltext_docs row; every
# statement finds it by owner, so none needs the docid read back first.
_FTS_CLEAR = (
    "DELETE FROM fts_resources WHERE rowid IN"
    f" (SELECT docid FROM fulltext_docs WHERE {OWNER_WHERE})"
)
_DOC_ADD = "INSERT OR IGNORE INTO fulltext_docs (tenant, res_type, res_id) VALUES (?, ?, ?)"
_DOC_DROP = f"DELETE FROM fulltext_docs WHERE {OWNER_WHERE}"
_FTS_ADD = (
    "INSERT INTO fts_resources (rowid, narrative, content)"
    f" SELECT docid, ?, ? FROM fulltext_docs WHERE {OWNER_WHERE}"
)


Writes = list[tuple[Phase, str, tuple[Any, ...]]]


def postgres_document_writes(owner: Owner, narrative: str | None, content: str | None) -> Writes:
    """One tsvector row per owner, upserted (``content=None``: a delete removes it)."""
    if content is None:
        return [(Phase.WRITE, f"DELETE FROM fulltext WHERE {OWNER_WHERE}", owner)]
    return [(Phase.WRITE, _PG_UPSERT, (*owner, narrative or "", content))]


def sqlite_document_writes(
    owner: Owner, narrative: str | None, content: str | None, *, previous: int | None
) -> Writes:
    """The owner's FTS5 row cleared (when there was an earlier version) and written again
    through its ``fulltext_docs`` row (``content=None``: a delete removes both)."""
    out: Writes = []
    if previous is not None:
        out.append((Phase.CLEAR, _FTS_CLEAR, owner))
    if content is None:
        if previous is not None:
            out.append((Phase.WRITE, _DOC_DROP, owner))
        return out
    out.append((Phase.WRITE, _DOC_ADD, owner))
    out.append((Phase.DERIVED, _FTS_ADD, (narrative or "", content, *owner)))
    return out


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
