"""Parse one parameter's values into a clause, per parameter type (search.html §3.1.1.4)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from polyfhir_core.errors import BadRequest
from polyfhir_core.resources import TYPE_PATTERN, check_id
from polyfhir_core.search import SearchParam, normalize, split_unescaped, unescape
from polyfhir_core.search.capabilities import IDENTIFIER_SUFFIX, OF_TYPE_SUFFIX
from polyfhir_core.search.dates import require_date_range, split_prefix
from polyfhir_core.search.fulltext import parse_text_query
from polyfhir_primary.domain.terminology import canonical
from polyfhir_primary.search.plan import (
    ANY,
    DateClause,
    FullTextClause,
    NumberClause,
    NumberMatch,
    ReferenceMatch,
    StringClause,
    TerminologyClause,
    TokenClause,
    TokenMatch,
    UriClause,
)


def token_match(value: str) -> TokenMatch:
    parts = split_unescaped(value, "|")
    if len(parts) == 1:
        return TokenMatch(ANY, parts[0])
    if len(parts) != 2:
        raise BadRequest(f"token value {value!r}: expected [system]|[code]")
    return TokenMatch(parts[0] or None, parts[1] or None)


def token_clause(p: SearchParam) -> TokenClause | TerminologyClause:
    if p.modifier in ("below", "above"):
        matches = tuple(token_match(v) for v in p.values)
        if any(m.code is None for m in matches):
            raise BadRequest(f"{p.raw_name} needs a code")
        codes = tuple(TokenMatch(None if m.system == ANY else m.system, m.code) for m in matches)
        return TerminologyClause(p.name, p.modifier, codes=codes)
    if p.modifier in ("in", "not-in"):
        return TerminologyClause(
            p.name, p.modifier, valuesets=tuple(canonical(unescape(v)) for v in p.values)
        )
    if p.modifier == "text":
        return TokenClause(
            p.name, tuple(TokenMatch(ANY, normalize(unescape(v))) for v in p.values), text=True
        )
    return TokenClause(p.name, tuple(token_match(v) for v in p.values), negate=p.modifier == "not")


def of_type_clause(p: SearchParam) -> TokenClause:
    """``identifier:of-type=[type-system]|[type-code]|[value]`` (all three required)."""
    matches = []
    for value in p.values:
        parts = split_unescaped(value, "|")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise BadRequest(f"{p.raw_name}: {value!r}: expected [system]|[code]|[value]")
        matches.append(TokenMatch(parts[0] or ANY, f"{parts[1]}|{parts[2]}"))
    return TokenClause(p.name + OF_TYPE_SUFFIX, tuple(matches))


def identifier_clause(p: SearchParam) -> TokenClause:
    """``subject:identifier=[system]|[value]``: logical references by identifier."""
    return TokenClause(p.name + IDENTIFIER_SUFFIX, tuple(token_match(v) for v in p.values))


def date_clause(p: SearchParam, param: str | None) -> DateClause:
    ranges = []
    for value in p.values:
        prefix, raw = split_prefix(value)
        ranges.append((prefix, require_date_range(raw, p.name)))
    return DateClause(param, tuple(ranges))


def string_clause(p: SearchParam) -> StringClause:
    if p.modifier == "exact":
        return StringClause(p.name, tuple(unescape(v) for v in p.values), "exact")
    mode = "contains" if p.modifier == "contains" else "start"
    return StringClause(p.name, tuple(normalize(unescape(v)) for v in p.values), mode)


def uri_clause(p: SearchParam) -> UriClause:
    mode = p.modifier if p.modifier in ("below", "above") else "exact"
    return UriClause(p.name, tuple(unescape(v) for v in p.values), mode)


def _decimal(raw: str, name: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BadRequest(f"{name}: {raw!r} is not a number") from None
    if not value.is_finite():
        raise BadRequest(f"{name}: {raw!r} is not a finite number")
    return value


def number_match(raw: str, name: str) -> NumberMatch:
    prefix, text = split_prefix(raw)
    value = _decimal(text, name)
    exponent = value.as_tuple().exponent
    half = Decimal(1).scaleb(int(exponent)) / 2 if isinstance(exponent, int) else Decimal(0)
    return NumberMatch(prefix, value, value - half, value + half)


def number_clause(p: SearchParam) -> NumberClause:
    return NumberClause(p.name, tuple(number_match(v, p.name) for v in p.values))


def quantity_clause(p: SearchParam) -> NumberClause:
    matches = []
    for value in p.values:
        parts = split_unescaped(value, "|")
        if len(parts) not in (1, 3):
            raise BadRequest(f"{p.name}: {value!r}: expected [prefix]number[|system|code]")
        base = number_match(parts[0], p.name)
        system, code = (parts[1] or None, parts[2] or None) if len(parts) == 3 else (None, None)
        matches.append(NumberMatch(base.prefix, base.value, base.low, base.high, system, code))
    return NumberClause(p.name, tuple(matches), quantity=True)


def reference_match(value: str, type_modifier: str | None, base_url: str | None) -> ReferenceMatch:
    raw = unescape(value)
    if base_url and raw.startswith(base_url.rstrip("/") + "/"):
        raw = raw[len(base_url.rstrip("/")) + 1 :]
    if "://" in raw or raw.startswith("urn:"):
        return ReferenceMatch(None, None, raw)
    head, sep, tail = raw.partition("/")
    if sep and TYPE_PATTERN.match(head):
        if type_modifier and head != type_modifier:
            raise BadRequest(f"reference {raw!r} contradicts the :{type_modifier} modifier")
        return ReferenceMatch(head, check_id(tail.split("/_history")[0]))
    return ReferenceMatch(type_modifier, check_id(raw))


def fulltext_clause(p: SearchParam) -> FullTextClause:
    """``_text`` searches the narrative, ``_content`` all text; values are alternatives."""
    query = tuple(group for v in p.values for group in parse_text_query(unescape(v)))
    return FullTextClause("narrative" if p.name == "_text" else "content", query)
