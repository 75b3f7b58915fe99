"""``_summary`` and ``_elements``: the subset of a resource a search returns.

search.html §3.1.1.5.7-8. Kept elements come from the R4 StructureDefinitions
(``isSummary`` and ``min >= 1``, shipped in ``registry/data/elements.json``).
A subsetted resource is tagged ``SUBSETTED`` so no client mistakes it for the
whole resource.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import orjson

from polyfhir_core.errors import BadRequest

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
SUMMARY_MODES = ("true", "text", "data", "count", "false")
_ALWAYS = ("resourceType", "id", "meta")


@cache
def _elements() -> dict[str, dict[str, list[str]]]:
    raw = resources.files("polyfhir_core.registry").joinpath("data/elements.json")
    table: dict[str, dict[str, list[str]]] = orjson.loads(raw.read_bytes())
    return table


def _matches(key: str, names: frozenset[str]) -> bool:
    """``valueQuantity`` matches ``value[x]``; ``_birthDate`` follows ``birthDate``."""
    key = key.removeprefix("_")
    if key in names:
        return True
    return any(n.endswith("[x]") and key.startswith(n[:-3]) and key[len(n) - 3 :][:1].isupper()
               for n in names)  # fmt: skip


def _keep(resource: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    kept = {k: v for k, v in resource.items() if k in _ALWAYS or _matches(k, names)}
    meta = dict(kept.get("meta") or {})
    meta["tag"] = [*(meta.get("tag") or []), SUBSETTED]
    kept["meta"] = meta
    return kept


def summarize(resource: dict[str, Any], mode: str | None) -> dict[str, Any]:
    if mode in (None, "false", "count"):
        return resource
    table = _elements().get(resource.get("resourceType", ""), {"summary": [], "required": []})
    required = frozenset(table["required"])
    if mode == "true":
        return _keep(resource, frozenset(table["summary"]) | required)
    if mode == "text":
        return _keep(resource, required | {"text"})
    if mode == "data":
        return _keep(resource, frozenset(k for k in resource if k != "text"))
    raise BadRequest(f"_summary must be one of {', '.join(SUMMARY_MODES)}, got {mode!r}")


def select_elements(resource: dict[str, Any], elements: tuple[str, ...]) -> dict[str, Any]:
    """``_elements=a,b``: those top-level elements plus the mandatory ones."""
    if not elements:
        return resource
    table = _elements().get(resource.get("resourceType", ""), {"summary": [], "required": []})
    wanted = frozenset(e.split(".")[-1] for e in elements) | frozenset(table["required"])
    return _keep(resource, wanted)
