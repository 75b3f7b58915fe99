"""Full-text documents and queries (pure), shared by the primary store and the search index.

A resource gives two documents: its narrative (``text.div`` without markup),
searched by ``_text``, and all its text (narrative plus every string value),
searched by ``_content``. Queries use one small syntax (a subset of R5's
``:text-advanced``), translated per engine:

- ``word`` — the stemmed word; ``word*`` — words starting with ``word``;
- ``"two words"`` — the phrase;
- terms side by side, or joined by ``AND``, must all match; ``OR`` offers
  alternatives; ``NOT term`` or ``-term`` excludes.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from polyfhir_core.errors import BadRequest

_TAGS = re.compile(r"<[^>]+>")
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SKIP_KEYS = frozenset(
    {"resourceType", "id", "meta", "reference", "system", "url", "div", "fullUrl"}
)
MAX_DOCUMENT = 200_000


def narrative_text(resource: dict[str, Any]) -> str:
    div = (
        (resource.get("text") or {}).get("div") if isinstance(resource.get("text"), dict) else None
    )
    if not isinstance(div, str):
        return ""
    return " ".join(html.unescape(_TAGS.sub(" ", div)).split())[:MAX_DOCUMENT]


def _strings(node: Any, out: list[str]) -> None:
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in _SKIP_KEYS:
                _strings(value, out)
    elif isinstance(node, list):
        for item in node:
            _strings(item, out)


def content_text(resource: dict[str, Any]) -> str:
    parts = [narrative_text(resource)]
    _strings(resource, parts)
    return " ".join(p for p in parts if p)[:MAX_DOCUMENT]


@dataclass(frozen=True, slots=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase
    prefix: bool = False
    negate: bool = False


# A query is OR-groups of AND-ed terms: [[t1, t2], [t3]] = (t1 AND t2) OR t3.
TextQuery = tuple[tuple[Term, ...], ...]


def _term(raw: str, phrase: bool, negate: bool) -> Term | None:
    prefix = raw.endswith("*") and not phrase
    words = tuple(w.lower() for w in _WORD.findall(raw))
    if not words:
        return None
    if prefix and len(words) != 1:
        raise BadRequest(f"full-text prefix {raw!r} must be a single word")
    return Term(words, prefix, negate)


def parse_text_query(text: str) -> TextQuery:
    groups: list[list[Term]] = [[]]
    negate = False
    for match in _TOKEN.finditer(text):
        phrase, word = match.group(1), match.group(2)
        if word in ("OR", "|"):
            groups.append([])
            continue
        if word in ("AND", "&"):
            continue
        if word == "NOT":
            negate = True
            continue
        raw = phrase if phrase is not None else word
        if phrase is None and raw.startswith("-") and len(raw) > 1:
            raw, negate = raw[1:], True
        term = _term(raw, phrase is not None, negate)
        negate = False
        if term is not None:
            groups[-1].append(term)
    result = tuple(tuple(g) for g in groups if g)
    if not result:
        raise BadRequest(f"full-text query {text!r} has no words")
    if any(all(t.negate for t in g) for g in result):
        raise BadRequest(
            f"full-text query {text!r}: every alternative needs a term that is not negated"
        )
    return result
