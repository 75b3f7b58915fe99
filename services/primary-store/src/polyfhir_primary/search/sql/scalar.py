"""Clauses over one index table each: _id, dates, tokens, strings, uris, :missing."""

from __future__ import annotations

from typing import Any

from polyfhir_core.search.dates import DateRange
from polyfhir_core.search.strings import text_words
from polyfhir_primary.adapters.sql.dialect import Dialect
from polyfhir_primary.search.plan import (
    ANY,
    DateClause,
    IdClause,
    MissingClause,
    StringClause,
    TokenClause,
    TokenMatch,
    UriClause,
)
from polyfhir_primary.search.sql.fragments import (
    Builder,
    Sql,
    any_of,
    exists,
    like_escape,
    starts_with,
)
from polyfhir_primary.search.sql.schema import INDEX_TABLES


def date_condition(prefix: str, low: str, high: str, rng: DateRange, d: Dialect) -> Sql:
    """search.html prefix semantics between the resource range [low, high] and ``rng``."""
    pl, ph = d.ts(rng.low), d.ts(rng.high)
    contained = f"({low} >= ? AND {high} <= ?)"
    conditions: dict[str, Sql] = {
        "eq": (contained, [pl, ph]),
        "ne": (f"NOT {contained}", [pl, ph]),
        "gt": (f"{high} > ?", [ph]),
        "lt": (f"{low} < ?", [pl]),
        "ge": (f"({high} > ? OR {contained})", [ph, pl, ph]),
        "le": (f"({low} < ? OR {contained})", [pl, pl, ph]),
        "sa": (f"{low} > ?", [ph]),
        "eb": (f"{high} < ?", [pl]),
        "ap": (f"({low} <= ? AND {high} >= ?)", [ph, pl]),
    }
    return conditions[prefix]


# Above this many ids an ``_id`` list is bound as one argument (``Dialect.one_of``).
# The graph path hands the primary its walk's candidates as ``_id`` (800 for a
# 3-level chain of benchmarks/graph.py, 8,000 for a 4-level one): as a list of
# 8,000 parameters each of its three statements took ~70-90 ms on PostgreSQL (a
# ~200k-resource database at load 13), as one array ~40 ms. Short lists (a user's
# ``_id=a,b``) keep theirs.
ID_LIST_AS_ONE_ARGUMENT = 100


def id_sql(b: Builder, c: IdClause, alias: str) -> Sql:
    if len(c.ids) > ID_LIST_AS_ONE_ARGUMENT:
        listed, args = b.dialect.one_of(f"{alias}.res_id", c.ids)
        return (f"NOT ({listed})" if c.negate else listed), args
    marks = ", ".join("?" for _ in c.ids)
    return f"{alias}.res_id {'NOT IN' if c.negate else 'IN'} ({marks})", list(c.ids)


def date_sql(b: Builder, c: DateClause, alias: str) -> Sql:
    if c.param is None:
        col = f"{alias}.last_updated"
        return any_of([date_condition(p, col, col, rng, b.dialect) for p, rng in c.ranges])
    x = b.alias("d")
    cond = any_of(
        [date_condition(p, f"{x}.low", f"{x}.high", rng, b.dialect) for p, rng in c.ranges]
    )
    return exists(b, "idx_date", x, alias, c.param, cond)


def token_match_sql(x: str, m: TokenMatch) -> Sql:
    parts: list[str] = []
    args: list[Any] = []
    if m.code is not None:
        parts.append(f"{x}.code = ?")
        args.append(m.code)
    if m.system is None:
        parts.append(f"{x}.system IS NULL")
    elif m.system != ANY:
        parts.append(f"{x}.system = ?")
        args.append(m.system)
    return "(" + " AND ".join(parts or ["1 = 1"]) + ")", args


def token_text_sql(b: Builder, param: str | tuple[str, ...], value: str, alias: str) -> Sql:
    """``:text``: every word of the value starts a word of the token's display/text
    (a range probe per word on idx_token_word; migration 0014/0009). One word is a
    plain membership of its index rows (``memberships.is_membership``), so a search
    by it is paged and counted from those rows in ``res_id`` order as a code's is:
    at 1M resources ``angina`` starts the words of 1,332 Conditions, and the general
    page probed and sorted every one of them."""
    words = text_words(value)
    if not words:
        return "1 = 0", []
    probes = []
    for word in words:
        x = b.alias("w")
        probes.append(exists(b, "idx_token_word", x, alias, param, starts_with(f"{x}.word", word)))
    if len(probes) == 1:
        return probes[0]
    return "(" + " AND ".join(p[0] for p in probes) + ")", [a for p in probes for a in p[1]]


MANY_CODES = 16
"""From this many ``system|code`` values on, a token compiles to one code list per
system (``Dialect.one_of``) instead of an ``OR`` per value: the code sets the
terminology secondary resolves ``:below``/``:in`` to run to thousands."""


def code_lists_sql(b: Builder, x: str, matches: tuple[TokenMatch, ...]) -> Sql | None:
    """``(system = ? AND code IN list) OR ...`` per system, when every match names both."""
    by_system: dict[str, list[str]] = {}
    for m in matches:
        if m.system is None or m.system == ANY or m.code is None:
            return None
        by_system.setdefault(m.system, []).append(m.code)
    parts: list[Sql] = []
    for system, codes in by_system.items():
        listed, args = b.dialect.one_of(f"{x}.code", codes)
        parts.append((f"({x}.system = ? AND {listed})", [system, *args]))
    return any_of(parts)


def driving_code_list_sql(b: Builder, c: TokenClause, alias: str) -> Sql | None:
    """One system's code list driving its clause from a table of the codes where the
    dialect has one (``Dialect.code_list_source``): only for a clause that is not a
    probe (a probe tests one candidate row: the ``IN`` list serves it) nor negated."""
    systems = {m.system for m in c.matches}
    if b.probe or c.negate or len(systems) != 1 or None in systems or ANY in systems:
        return None
    codes = [m.code for m in c.matches if m.code is not None]
    if len(codes) != len(c.matches):
        return None
    x, j = b.alias("t"), b.alias("j")
    source = b.dialect.code_list_source(j, codes)
    if source is None:
        return None
    condition = (f"({x}.system = ? AND {x}.code = {j}.value)", [next(iter(systems))])
    return exists(b, "idx_token", x, alias, c.param, condition, source=source)


def token_sql(b: Builder, c: TokenClause, alias: str) -> Sql:
    if c.text:
        texts = [token_text_sql(b, c.param, m.code or "", alias) for m in c.matches]
        return texts[0] if len(texts) == 1 else any_of(texts)
    driven = driving_code_list_sql(b, c, alias) if len(c.matches) >= MANY_CODES else None
    if driven is not None:
        return driven
    x = b.alias("t")
    listed = code_lists_sql(b, x, c.matches) if len(c.matches) >= MANY_CODES else None
    cond = listed or any_of([token_match_sql(x, m) for m in c.matches])
    return exists(b, "idx_token", x, alias, c.param, cond, negate=c.negate)


def string_sql(b: Builder, c: StringClause, alias: str) -> Sql:
    x = b.alias("s")
    if c.mode == "exact":
        parts: list[Sql] = [(f"{x}.exact = ?", [v]) for v in c.values]
    elif c.mode == "contains":
        parts = [(f"{x}.value LIKE ? ESCAPE '\\'", [f"%{like_escape(v)}%"]) for v in c.values]
    else:
        parts = [starts_with(f"{x}.value", v) for v in c.values]
    return exists(b, "idx_string", x, alias, c.param, any_of(parts))


def uri_sql(b: Builder, c: UriClause, alias: str) -> Sql:
    x = b.alias("u")
    if c.mode == "below":
        parts: list[Sql] = [starts_with(f"{x}.value", v) for v in c.values]
    elif c.mode == "above":
        parts = [(f"substr(?, 1, length({x}.value)) = {x}.value", [v]) for v in c.values]
    else:
        parts = [(f"{x}.value = ?", [v]) for v in c.values]
    return exists(b, "idx_uri", x, alias, c.param, any_of(parts))


def missing_sql(b: Builder, c: MissingClause, alias: str) -> Sql:
    x = b.alias("m")
    rows: Sql = (f"{x}.target_type = ?", [c.target_type]) if c.target_type else ("1 = 1", [])
    return exists(b, INDEX_TABLES[c.kind], x, alias, c.param, rows, negate=c.missing)
