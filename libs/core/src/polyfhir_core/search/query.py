"""Parse a FHIR query string into a :class:`SearchQuery` (search.html §3.1.1).

Each occurrence of a parameter is ANDed with the others; the comma-separated
values inside one occurrence are ORed. ``\\,`` ``\\$`` ``\\|`` and ``\\\\``
escape the separators. Which parameters exist is decided later, against the
SearchParameter registry; this module only knows the shape of a query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from polyfhir_core.errors import BadRequest
from polyfhir_core.input_limits import MAX_INT32, check_search_text, parse_bounded_int
from polyfhir_core.search.nesting import check_nesting

TotalMode = Literal["none", "estimate", "accurate"]
Handling = Literal["lenient", "strict"]

# Result parameters (search.html §3.1.1.5) and other framework parameters.
CONTROL_PARAMETERS = frozenset(
    {
        "_count",
        "_offset",
        "_page",
        "_sort",
        "_total",
        "_summary",
        "_elements",
        "_include",
        "_revinclude",
        "_contained",
        "_containedType",
        "_format",
        "_pretty",
        "_since",
        "_at",
    }
)


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One occurrence of a search parameter: ``name[:modifier]=v1,v2``."""

    name: str
    values: tuple[str, ...]
    modifier: str | None = None

    @property
    def raw_name(self) -> str:
        return f"{self.name}:{self.modifier}" if self.modifier else self.name


@dataclass(frozen=True, slots=True)
class IncludeSpec:
    """``_include=Source:param[:Target]`` or ``_revinclude=...``; ``*`` = every reference.

    A bare ``*`` (``_include=*``) has ``source_type`` and ``param`` ``*``: every
    reference of any matched resource (or, reversed, to any of them)."""

    source_type: str
    param: str
    target_type: str | None = None
    reverse: bool = False
    iterate: bool = False

    @property
    def is_bare_wildcard(self) -> bool:
        """``_include=*`` / ``_revinclude=*``: every reference, from or to any type."""
        return self.source_type == "*"

    @property
    def text(self) -> str:
        """The value as written in a query string (``*``, ``Type:param[:Target]``)."""
        if self.is_bare_wildcard:
            return "*"
        target = f":{self.target_type}" if self.target_type else ""
        return f"{self.source_type}:{self.param}{target}"

    @classmethod
    def parse(cls, value: str, *, reverse: bool, iterate: bool) -> IncludeSpec:
        if value == "*":
            return cls("*", "*", None, reverse, iterate)
        parts = value.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            what = "_revinclude" if reverse else "_include"
            raise BadRequest(f"{what}={value!r}: expected Type:param[:Target]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None, reverse, iterate)


@dataclass(frozen=True, slots=True)
class SortKey:
    name: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    resource_type: str | None
    params: tuple[SearchParam, ...] = ()
    count: int | None = None
    offset: int = 0
    page_token: str | None = None
    sort: tuple[SortKey, ...] = ()
    total: TotalMode | None = None
    summary: str | None = None
    elements: tuple[str, ...] = ()
    includes: tuple[IncludeSpec, ...] = ()
    # ``Patient/123/Observation``: only resources in that compartment (type, id)
    compartment: tuple[str, str] | None = None


def split_values(raw: str, separator: str = ",") -> tuple[str, ...]:
    """Split on an unescaped ``separator`` and remove the escapes of that separator only.

    Other escapes (``\\|``, ``\\$``, ``\\\\``) stay, so a later split of a value on
    ``|`` or ``$`` (token, quantity, composite) can still tell them from separators.
    A value without any escape is a plain split (the code lists of ``:below`` hold
    thousands of values).
    """
    if "\\" not in raw:
        return tuple(raw.split(separator))
    out: list[str] = []
    current: list[str] = []
    chars = iter(raw)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            current.append(nxt if nxt == separator else ch + nxt)
        elif ch == separator:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return tuple(out)


def unescape(value: str) -> str:
    """Remove the search escapes ``\\,`` ``\\|`` ``\\$`` ``\\\\`` from one value part."""
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(nxt if nxt in {",", "|", "$", "\\"} else ch + nxt)
        else:
            out.append(ch)
    return "".join(out)


def split_unescaped(value: str, separator: str) -> list[str]:
    """Split one value on an unescaped separator (``|`` or ``$``) and unescape the parts."""
    return [unescape(part) for part in split_values(value, separator)]


def parse_search(resource_type: str | None, pairs: Iterable[tuple[str, str]]) -> SearchQuery:
    """Build a SearchQuery from decoded ``(key, value)`` pairs of a query string."""
    params: list[SearchParam] = []
    opts: dict[str, object] = {}
    sort: list[SortKey] = []
    elements: list[str] = []
    includes: list[IncludeSpec] = []
    for key, value in pairs:
        check_search_text(key, value)
        name, _, modifier = key.partition(":")
        if not name:
            raise BadRequest(f"empty search parameter name in {key!r}")
        if name == "_count":
            opts["count"] = parse_bounded_int("_count", value, maximum=MAX_INT32)
        elif name == "_offset":
            opts["offset"] = parse_bounded_int("_offset", value, maximum=MAX_INT32)
        elif name == "_page":
            opts["page_token"] = value
        elif name == "_sort":
            for raw_item in value.split(","):
                item = raw_item.strip()
                if item:
                    sort.append(SortKey(item.lstrip("-"), item.startswith("-")))
        elif name == "_total":
            if value not in {"none", "estimate", "accurate"}:
                raise BadRequest(f"_total must be none, estimate or accurate, got {value!r}")
            opts["total"] = value
        elif name == "_summary":
            if value not in {"true", "false", "text", "data", "count"}:
                raise BadRequest(f"_summary must be true, false, text, data or count: {value!r}")
            opts["summary"] = value
        elif name == "_elements":
            elements.extend(v.strip() for v in value.split(",") if v.strip())
        elif name in ("_include", "_revinclude"):
            if modifier not in ("", "iterate", "recurse"):
                raise BadRequest(f"{key}: unknown modifier {modifier!r}")
            includes.extend(
                IncludeSpec.parse(
                    item.strip(), reverse=name == "_revinclude", iterate=bool(modifier)
                )
                for item in value.split(",")
            )
        elif name in {"_format", "_pretty"} or name in CONTROL_PARAMETERS:
            continue
        else:
            check_nesting(key)
            params.append(SearchParam(name, split_values(value), modifier or None))
    return SearchQuery(
        resource_type=resource_type,
        params=tuple(params),
        count=opts.get("count"),  # type: ignore[arg-type]
        offset=opts.get("offset", 0),  # type: ignore[arg-type]
        page_token=opts.get("page_token"),  # type: ignore[arg-type]
        sort=tuple(sort),
        total=opts.get("total"),  # type: ignore[arg-type]
        summary=opts.get("summary"),  # type: ignore[arg-type]
        elements=tuple(elements),
        includes=tuple(includes),
    )
