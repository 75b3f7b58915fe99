"""Find and rewrite references inside a resource (pure).

Used by transaction processing: ``urn:uuid:`` fullUrls become ``Type/id``,
and conditional references (``Patient?identifier=x``) become the one matching
resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Json = dict[str, Any]


def iter_references(node: Any) -> Iterator[Json]:
    """Every Reference-shaped object (a dict with a string ``reference``)."""
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            yield node
        for key, value in node.items():
            if key != "contained" or isinstance(value, list):
                yield from iter_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_references(item)


def rewrite_references(
    resource: Json, replace: Callable[[str], str | None], found: list[Json] | None = None
) -> int:
    """Replace each reference for which ``replace`` returns a new value; count them.
    ``found``: the resource's references when already listed (one walk, not two)."""
    changed = 0
    for ref in iter_references(resource) if found is None else found:
        new = replace(ref["reference"])
        if new is not None and new != ref["reference"]:
            ref["reference"] = new
            changed += 1
    return changed


def is_conditional_reference(reference: str) -> bool:
    """``Patient?identifier=x`` (a search URL in place of a literal reference)."""
    head, sep, _ = reference.partition("?")
    return bool(sep) and "/" not in head and head[:1].isupper()
