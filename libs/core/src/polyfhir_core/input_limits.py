"""What a request may carry: integer ranges, JSON nesting, characters in strings.

Each rule turns input that would otherwise break a driver, the SQL engine or
Python's recursion (a 500) into a 400 with an OperationOutcome naming where:

- integers are ASCII digits only and fit the column or parameter they feed
  (``version`` is a 32-bit column on PostgreSQL; offsets and counts are 64-bit);
- a JSON body nests at most :data:`MAX_JSON_DEPTH` levels (the deepest R4
  resources in practice, nested ``Questionnaire.item``, stay far below);
- a FHIR string carries no control character other than tab, CR and LF
  (R4 datatypes §2.24.0.1 *string*: "Strings SHALL NOT contain Unicode
  character points below 32, except for u0009, u000D and u000A"); the same
  rule holds for search parameter names and values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

from polyfhir_core.errors import BadRequest, InvalidResource, Issue

MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1
MAX_JSON_DEPTH = 100

_DIGITS = re.compile(r"[0-9]{1,19}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def parse_bounded_int(name: str, raw: str, *, minimum: int = 0, maximum: int = MAX_INT64) -> int:
    """``raw`` as an integer in ``[minimum, maximum]``, else BadRequest naming ``name``."""
    text = raw.strip()
    if not _DIGITS.fullmatch(text):
        if text.isascii() and text.isdigit():
            raise BadRequest(f"{name} {raw!r} is out of range (at most {maximum})")
        raise BadRequest(f"{name} must be a non-negative integer, got {raw!r}")
    value = int(text)
    if value < minimum:
        raise BadRequest(f"{name} must be >= {minimum}, got {value}")
    if value > maximum:
        raise BadRequest(f"{name} {raw!r} is out of range (at most {maximum})")
    return value


def has_control_character(text: str) -> bool:
    """True if ``text`` holds a character below U+0020 other than tab, CR and LF."""
    return _CONTROL.search(text) is not None


def check_json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise BadRequest if ``value`` nests objects/arrays deeper than ``limit`` (no recursion)."""
    if not isinstance(value, (dict, list)):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            raise BadRequest(f"the JSON body nests deeper than {limit} levels")
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))


def _paths(resource: dict[str, Any], root: str) -> Iterable[tuple[str, str]]:
    """Every (path, text) of a JSON tree: keys and string values, iteratively."""
    stack: list[tuple[str, Any]] = [(root, resource)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                yield f"{path}.{key}", key
                stack.append((f"{path}.{key}", child))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(node))
        elif isinstance(node, str):
            yield path, node


# How orjson writes the forbidden characters: \b, \f or \u00XX (tab, CR and LF are \t \r \n).
_ESCAPED_CONTROL = (b"\\u00", b"\\b", b"\\f")


def _may_hold_control_character(resource: dict[str, Any]) -> bool:
    """False when no string of ``resource`` can hold a forbidden character: its JSON text
    has none of their escapes (one C pass instead of a walk in Python; a ``\\b`` in the
    text only sends it to the walk, which decides)."""
    try:
        text = orjson.dumps(resource)
    except TypeError:  # not plain JSON (e.g. an integer beyond 64 bits): walk it
        return True
    return any(escape in text for escape in _ESCAPED_CONTROL)


def check_resource_strings(resource: dict[str, Any], rtype: str) -> None:
    """Raise InvalidResource naming every element whose string has a forbidden control char."""
    if not _may_hold_control_character(resource):
        return
    issues = [
        Issue(
            "value",
            f"{path}: control characters other than tab, CR and LF are not allowed "
            "in a FHIR string",
            expression=(path,),
        )
        for path, text in _paths(resource, rtype)
        if has_control_character(text)
    ]
    if issues:
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        raise InvalidResource(f"invalid {rtype}: {issues[0].diagnostics}{more}", issues)


def check_search_text(key: str, value: str) -> None:
    """Search parameter names and values follow the FHIR string rule (no control chars)."""
    if has_control_character(key) or has_control_character(value):
        raise BadRequest(
            f"search parameter {key!r}: control characters other than tab, CR and LF "
            "are not allowed",
            [
                Issue(
                    "value",
                    f"control character in search parameter {key!r}",
                    expression=(key,),
                )
            ],
        )
