"""How far one search parameter reaches through references (chains and ``_has``).

Each link (``subject.name``, ``_has:Observation:subject:code``) nests one more
subquery in the statement the primary store builds, and a terminology modifier
at the end nests more: ``:in``/``:not-in`` test value-set membership (rules,
then the closure inside them, three levels), ``:below``/``:above`` walk the
closure (one level). SQLite parses a statement with a fixed-size parser stack
(``YYSTACKDEPTH``, 100 entries), so
``Observation?subject.organization.identifier:in=x`` (two links + membership)
failed with "parser stack overflow" and a 500. PostgreSQL parses it, but the
same query must mean the same on every backend, so the bound lives here, in
the search model: a parameter ending in a terminology modifier may nest at most
:data:`MAX_NESTING` levels, counting a link as one and the modifier as its
extra levels (``:in``/``:not-in`` after one link, ``:below``/``:above`` after
up to three), and at most :data:`MAX_HAS` links may be ``_has`` (a reverse
join nests deeper than a chain link; four overflow SQLite). Beyond that it is
a 400 ``not-supported`` naming the parameter. Plain chains are bounded by the
primary store's ``POLYFHIR_MAX_CHAIN_DEPTH`` (4 by default; SQLite parses up
to 6). These bounds cover the shapes measured against SQLite 3.40; any other
statement SQLite (or PostgreSQL) refuses as too complex is mapped by the store
to the same 400 (``QueryTooComplex``), never a 500.
"""

from __future__ import annotations

from polyfhir_core.errors import NotSupported

MAX_NESTING = 4
MAX_HAS = 3
TERMINOLOGY_NESTING = {"in": 3, "not-in": 3, "below": 1, "above": 1}


def links(key: str) -> int:
    """Reference links in a parameter name: one per ``.`` and per ``_has:``."""
    return key.count(".") + key.count("_has:")


def nesting(key: str) -> int:
    """Links plus the extra levels of a terminology modifier on the last parameter."""
    last_modifier = key.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
    return links(key) + TERMINOLOGY_NESTING.get(last_modifier, 0)


def check_nesting(key: str) -> None:
    """Raise NotSupported if ``key`` nests a terminology modifier deeper than
    :data:`MAX_NESTING`, or ``_has`` deeper than :data:`MAX_HAS`."""
    if links(key) == 0:
        return
    if key.count("_has:") > MAX_HAS:
        raise NotSupported(f"{key}: _has is supported up to {MAX_HAS} levels deep")
    depth = nesting(key)
    if depth == links(key):
        return  # a plain chain: the store's own chain depth applies
    if depth > MAX_NESTING:
        raise NotSupported(
            f"{key}: nests {depth} levels through references (a chain or _has link counts 1, "
            f":in/:not-in 3 more, :below/:above 1 more); at most {MAX_NESTING} are supported "
            "with a terminology modifier"
        )
