"""FHIR element -> index rows, per search parameter type (search.html §3.1.1.4).

Each converter takes the nodes an expression selected and appends rows to an
:class:`IndexValues`. The node's FHIR type is used when the path revealed it;
otherwise it is recognised from its shape (the general FHIRPath path).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from polyfhir_core.indexing.index_values import (
    DateValue,
    IndexValues,
    NumberValue,
    QuantityValue,
    ReferenceValue,
    StringValue,
    TokenValue,
    UriValue,
)
from polyfhir_core.indexing.paths import Node
from polyfhir_core.registry import SearchParamType
from polyfhir_core.search.capabilities import IDENTIFIER_SUFFIX, OF_TYPE_SUFFIX
from polyfhir_core.search.dates import MAX_INSTANT, MIN_INSTANT, parse_date_range
from polyfhir_core.search.strings import MAX_INDEXED_CHARS, normalize

# Open ends of ranges (Period without end, Range without high); finite so that
# every engine stores and compares them the same way.
NUMBER_MIN, NUMBER_MAX = Decimal("-1e300"), Decimal("1e300")
CURRENCY_SYSTEM = "urn:iso:std:iso:4217"
# Token rows carry derived values for two modifiers: ``identifier:of-type``
# (system = type system, code = "type-code|value") and ``subject:identifier``
# (the identifier of a logical reference).

_STRING_PARTS = (
    "text", "family", "given", "prefix", "suffix",
    "line", "city", "district", "state", "postalCode", "country",
)  # fmt: skip


def _text(value: Any) -> str | None:
    return normalize(value) if isinstance(value, str) and value.strip() else None


# --- token -----------------------------------------------------------------


def _token(param: str, node: Node, out: IndexValues) -> None:
    value, kind = node.value, node.fhir_type
    if isinstance(value, bool):
        out.tokens.append(TokenValue(param, None, "true" if value else "false"))
    elif isinstance(value, str):
        out.tokens.append(TokenValue(param, None, value))
    elif isinstance(value, dict):
        if kind == "CodeableConcept" or "coding" in value or (kind is None and _only_text(value)):
            for coding in value.get("coding") or ():
                _coding(param, coding, out)
            if text := _text(value.get("text")):
                out.tokens.append(TokenValue(param, None, None, text))
        elif kind == "Identifier" or (kind is None and _is_identifier(value)):
            _identifier(param, value, out)
        elif kind == "ContactPoint" or (kind is None and "value" in value):
            if isinstance(value.get("value"), str):
                out.tokens.append(TokenValue(param, None, value["value"], _text(value.get("use"))))
        else:
            _coding(param, value, out)


def _only_text(value: dict[str, Any]) -> bool:
    return set(value) <= {"text", "id", "extension"} and "text" in value


# ContactPoint.system is one of these codes; an Identifier's system is any other uri,
# relative ones (``urn``-less, like ``s``) included.
CONTACT_POINT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})


def _is_identifier(value: dict[str, Any]) -> bool:
    """An element of unknown type with ``value`` is an Identifier unless its shape or its
    system code says ContactPoint."""
    if "value" not in value or ("use" in value and "rank" in value):
        return False
    if "type" in value or "assigner" in value:
        return True
    system = value.get("system")
    return isinstance(system, str) and system not in CONTACT_POINT_SYSTEMS


def _coding(param: str, coding: Any, out: IndexValues) -> None:
    if not isinstance(coding, dict):
        return
    system, code = coding.get("system"), coding.get("code")
    if isinstance(code, str) or isinstance(system, str):
        out.tokens.append(
            TokenValue(
                param,
                system if isinstance(system, str) else None,
                code if isinstance(code, str) else None,
                _text(coding.get("display")),
            )
        )


def _identifier(param: str, identifier: dict[str, Any], out: IndexValues) -> None:
    system, value = identifier.get("system"), identifier.get("value")
    if not isinstance(value, str) and not isinstance(system, str):
        return
    system = system if isinstance(system, str) else None
    value = value if isinstance(value, str) else None
    found = identifier.get("type")
    kind: dict[str, Any] = found if isinstance(found, dict) else {}
    out.tokens.append(TokenValue(param, system, value, _text(kind.get("text"))))
    for coding in kind.get("coding") or ():
        if isinstance(coding, dict) and isinstance(coding.get("code"), str) and value:
            out.tokens.append(
                TokenValue(
                    param + OF_TYPE_SUFFIX, coding.get("system"), f"{coding['code']}|{value}"
                )
            )


# --- string / uri ----------------------------------------------------------


def _string_value(param: str, text: str, out: IndexValues) -> None:
    if text.strip():
        out.strings.append(StringValue(param, normalize(text), text[:MAX_INDEXED_CHARS]))


def _string(param: str, node: Node, out: IndexValues) -> None:
    value = node.value
    if isinstance(value, str):
        _string_value(param, value, out)
    elif isinstance(value, dict):
        for part in _STRING_PARTS:
            item = value.get(part)
            for text in item if isinstance(item, list) else [item]:
                if isinstance(text, str):
                    _string_value(param, text, out)


def _uri(param: str, node: Node, out: IndexValues) -> None:
    if isinstance(node.value, str):
        out.uris.append(UriValue(param, node.value))


# --- date ------------------------------------------------------------------


def _date(param: str, node: Node, out: IndexValues) -> None:
    value = node.value
    if isinstance(value, str):
        found = parse_date_range(value)
        if found is not None:
            out.dates.append(DateValue(param, found.low, found.high))
    elif isinstance(value, dict):
        if "start" in value or "end" in value:
            _period(param, value, out)
        elif "event" in value or "repeat" in value:  # Timing
            for event in value.get("event") or ():
                _date(param, Node(event), out)
            bounds = (value.get("repeat") or {}).get("boundsPeriod")
            if isinstance(bounds, dict):
                _period(param, bounds, out)


def _period(param: str, period: dict[str, Any], out: IndexValues) -> None:
    start = parse_date_range(period["start"]) if isinstance(period.get("start"), str) else None
    end = parse_date_range(period["end"]) if isinstance(period.get("end"), str) else None
    if start is None and end is None:
        return
    low = start.low if start else MIN_INSTANT
    high = end.high if end else MAX_INSTANT
    out.dates.append(DateValue(param, low, high))


# --- number / quantity -----------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def precision_range(value: Decimal) -> tuple[Decimal, Decimal]:
    """Half a unit of the last significant digit each side: 100 -> [99.5, 100.5]."""
    exponent = value.as_tuple().exponent
    half = Decimal(1).scaleb(exponent) / 2 if isinstance(exponent, int) else Decimal(0)
    return value - half, value + half


def _number(param: str, node: Node, out: IndexValues) -> None:
    number = _decimal(node.value)
    if number is not None:
        low, high = precision_range(number)
        out.numbers.append(NumberValue(param, number, low, high))


def _quantity(param: str, node: Node, out: IndexValues) -> None:
    value = node.value
    if not isinstance(value, dict):
        _number_as_quantity(param, value, out)
        return
    if "low" in value or "high" in value:  # Range
        low_q, high_q = value.get("low") or {}, value.get("high") or {}
        low, high = _decimal(low_q.get("value")), _decimal(high_q.get("value"))
        if low is None and high is None:
            return
        unit_of = low_q if low is not None else high_q
        out.quantities.append(
            QuantityValue(
                param,
                low if low is not None else high,  # type: ignore[arg-type]
                low if low is not None else NUMBER_MIN,
                high if high is not None else NUMBER_MAX,
                *_units(unit_of),
            )
        )
        return
    number = _decimal(value.get("value"))
    if number is None:
        return
    low, high = precision_range(number)
    units: tuple[str | None, str | None, str | None]
    if "currency" in value:  # Money
        code = value.get("currency")
        units = (CURRENCY_SYSTEM, code if isinstance(code, str) else None, None)
    else:
        units = _units(value)
    out.quantities.append(QuantityValue(param, number, low, high, *units))


def _number_as_quantity(param: str, value: Any, out: IndexValues) -> None:
    number = _decimal(value)
    if number is not None:
        low, high = precision_range(number)
        out.quantities.append(QuantityValue(param, number, low, high, None, None, None))


def _units(quantity: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    def text(key: str) -> str | None:
        item = quantity.get(key)
        return item if isinstance(item, str) else None

    return text("system"), text("code"), text("unit")


# --- reference -------------------------------------------------------------


def parse_reference(reference: str) -> tuple[str | None, str | None]:
    """``Patient/1``, ``Patient/1/_history/2``, ``https://x/fhir/Patient/1`` -> (type, id)."""
    path = reference.split("/_history/", maxsplit=1)[0]
    parts = path.split("/")
    if len(parts) >= 2 and parts[-2][:1].isupper() and parts[-2].isalnum() and parts[-1]:
        return parts[-2], parts[-1]
    return None, None


def _reference(param: str, node: Node, out: IndexValues) -> None:
    value = node.value
    if isinstance(value, str):  # canonical or uri
        out.references.append(ReferenceValue(param, None, None, value))
        return
    if not isinstance(value, dict):
        return
    if isinstance(value.get("resourceType"), str):  # a contained/embedded resource
        rid = value.get("id")
        if isinstance(rid, str):
            out.references.append(ReferenceValue(param, value["resourceType"], rid))
        return
    reference = value.get("reference")
    if isinstance(reference, str) and not reference.startswith("#"):
        target_type, target_id = parse_reference(reference)
        absolute = "://" in reference or reference.startswith("urn:")
        out.references.append(
            ReferenceValue(param, target_type, target_id, reference if absolute else None)
        )
    identifier = value.get("identifier")
    if isinstance(identifier, dict) and not isinstance(reference, str):
        # A logical reference: present for :missing, matched only by :identifier; its
        # type (``Reference.type``) is kept, so a parameter restricted to a type
        # (``patient``: ``subject.where(resolve() is Patient)``) sees it too.
        kind = value.get("type")
        out.references.append(ReferenceValue(param, kind if isinstance(kind, str) else None, None))
    reference_identifier(param, node, out)


def reference_identifier(param: str, node: Node, out: IndexValues) -> None:
    """The ``:identifier`` row of a reference (the identifier of a logical reference)."""
    value = node.value
    identifier = value.get("identifier") if isinstance(value, dict) else None
    if isinstance(identifier, dict):
        system, ident = identifier.get("system"), identifier.get("value")
        if isinstance(ident, str):
            out.tokens.append(
                TokenValue(
                    param + IDENTIFIER_SUFFIX, system if isinstance(system, str) else None, ident
                )
            )


Converter = Callable[[str, Node, IndexValues], None]

CONVERTERS: dict[SearchParamType, Converter] = {
    SearchParamType.TOKEN: _token,
    SearchParamType.STRING: _string,
    SearchParamType.URI: _uri,
    SearchParamType.DATE: _date,
    SearchParamType.NUMBER: _number,
    SearchParamType.QUANTITY: _quantity,
    SearchParamType.REFERENCE: _reference,
}
