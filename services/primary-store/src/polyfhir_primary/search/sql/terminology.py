"""``:below`` ``:above`` ``:in`` ``:not-in`` on tokens, against the tenant's own terminology."""

from __future__ import annotations

from typing import Any

from polyfhir_primary.search.plan import TerminologyClause, TokenMatch
from polyfhir_primary.search.sql.fragments import Builder, Sql, any_of, exists

_OPS = ("v.op = 'concept' AND v.code = {x}.code", "v.op = 'all'")


def _hierarchy(b: Builder, x: str, c: str, m: TokenMatch, below: bool) -> Sql:
    """The code itself, or (through the closure) a descendant / ancestor of it."""
    near, far = ("ancestor", "descendant") if below else ("descendant", "ancestor")
    if m.system and b.dialect.closure_drives:
        # the codes related to this one, listed from the closure's index, drive the token
        # index (a few thousand probes for an ICD-10-CM chapter) instead of one closure
        # probe per token row of the parameter (every Observation's code: seconds at 1M)
        related = (
            f"SELECT {c}.{far} FROM terminology_closure {c} WHERE {c}.tenant = ?"
            f" AND {c}.system = ? AND {c}.{near} = ? UNION ALL SELECT ?"
        )
        return (
            f"({x}.system = ? AND {x}.code IN ({related}))",
            [m.system, b.tenant, m.system, m.code, m.code],
        )
    system_sql = f" AND {c}.system = ?" if m.system else ""
    sys_args: list[Any] = [m.system] if m.system else []
    via_closure = (
        f"EXISTS (SELECT 1 FROM terminology_closure {c} WHERE {c}.tenant = {x}.tenant"
        f" AND {c}.system = {x}.system AND {c}.{far} = {x}.code AND {c}.{near} = ?{system_sql})"
    )
    itself = f"({x}.code = ?" + (f" AND {x}.system = ?)" if m.system else ")")
    return f"({itself} OR {via_closure})", [m.code, *sys_args, m.code, *sys_args]


def _member(x: str, exclude: bool, d_flag: Any) -> str:
    c = f"{x}c"
    subtree = (
        f"v.op IN ('is-a', 'descendent-of') AND EXISTS (SELECT 1 FROM terminology_closure {c}"
        f" WHERE {c}.tenant = {x}.tenant AND {c}.system = {x}.system AND {c}.ancestor = v.code"
        f" AND {c}.descendant = {x}.code AND (v.op = 'is-a' OR {c}.descendant <> {c}.ancestor))"
    )
    ops = " OR ".join([*(o.format(x=x) for o in _OPS), subtree])
    return (
        f"EXISTS (SELECT 1 FROM valueset_rules v WHERE v.tenant = {x}.tenant AND v.url = ?"
        f" AND v.exclude = ? AND v.system = {x}.system AND ({ops}))"
    )


def terminology_sql(b: Builder, t: TerminologyClause, alias: str) -> Sql:
    x = b.alias("t")
    if t.op in ("in", "not-in"):
        parts = [
            (
                f"({_member(x, False, None)} AND NOT {_member(x, True, None)})",
                [url, b.dialect.flag(False), url, b.dialect.flag(True)],
            )
            for url in t.valuesets
        ]
        return exists(b, "idx_token", x, alias, t.param, any_of(parts), negate=t.op == "not-in")
    c = b.alias("tc")
    parts = [_hierarchy(b, x, c, m, below=t.op == "below") for m in t.codes]
    return exists(b, "idx_token", x, alias, t.param, any_of(parts))
