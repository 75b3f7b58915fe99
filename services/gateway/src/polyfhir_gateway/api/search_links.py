"""A searchset's paging links (http.html#paging, search.html#self): pure.

``self`` repeats every parameter the search applied, includes, ``_total`` and
result parameters among them, and leaves out those it ignored. Pages are offsets
(the primary's and the secondary-filtered paths' ``next`` tokens are offsets), so
``first`` is always known, ``previous`` whenever the page is not the first, and
``last`` whenever the total was counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from polyfhir_core.contracts.primary_store import Page
from polyfhir_core.search import IncludeSpec, SearchQuery

Pairs = list[tuple[str, str]]


def link(base: str, path: str, pairs: Pairs) -> str:
    query = urlencode(pairs)
    return f"{base}/{path}" + (f"?{query}" if query else "")


def _include_pairs(includes: Sequence[IncludeSpec]) -> Pairs:
    pairs = []
    for spec in includes:
        name = "_revinclude" if spec.reverse else "_include"
        pairs.append((name + (":iterate" if spec.iterate else ""), spec.text))
    return pairs


def applied_pairs(query: SearchQuery, ignored: Sequence[str], page_size: int) -> Pairs:
    """Every parameter the search applied, as it goes into a link (offset aside)."""
    pairs = [
        (p.raw_name, ",".join(v.replace(",", "\\,") for v in p.values))
        for p in query.params
        if p.raw_name not in ignored
    ]
    pairs += _include_pairs(query.includes)
    pairs.append(("_count", str(page_size)))
    if query.sort:
        pairs.append(
            ("_sort", ",".join(("-" if s.descending else "") + s.name for s in query.sort))
        )
    pairs += [("_total", query.total)] if query.total else []
    pairs += [("_summary", query.summary)] if query.summary else []
    pairs += [("_elements", ",".join(query.elements))] if query.elements else []
    return pairs


def _at(pairs: Pairs, offset: int | str) -> Pairs:
    return pairs + ([("_offset", str(offset))] if offset not in (0, "0") else [])


def paging_links(
    base: str, path: str, query: SearchQuery, page: Page, page_size: int
) -> dict[str, str]:
    """``self``, ``first``, ``previous``, ``next`` and ``last`` where each can be known."""
    pairs = applied_pairs(query, page.ignored, page_size)
    links = {"self": link(base, path, _at(pairs, query.offset))}
    links["first"] = link(base, path, pairs)
    if query.offset > 0 and page_size > 0:
        links["previous"] = link(base, path, _at(pairs, max(0, query.offset - page_size)))
    if page.next_token is not None:
        links["next"] = link(base, path, _at(pairs, page.next_token))
    if page.total is not None and page_size > 0:
        last = max(0, (page.total - 1) // page_size * page_size)
        links["last"] = link(base, path, _at(pairs, last))
    return links
