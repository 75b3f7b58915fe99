"""What a request costs, read from its method, path and query alone (no I/O).

A search is *heavy* when its shape says so: the analyzer's features (chains,
``_has``, full text, ``_include:iterate``), ``_include``/``_revinclude`` with a
large ``_count``, or a complexity score (the analyzer's, also shown by
``/admin/explain``) at or above a threshold. Candidate estimates would need a
round trip to a backend on every request, so they are not used here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from polyfhir_core.config.routing import QueryFeature
from polyfhir_core.errors import FhirError
from polyfhir_core.planning.analyzer import analyze
from polyfhir_core.search import parse_search

Pairs = Sequence[tuple[str, str]]
HEAVY_FEATURES = frozenset(
    {QueryFeature.CHAIN, QueryFeature.HAS, QueryFeature.FULL_TEXT, QueryFeature.INCLUDE_ITERATE}
)
_EXEMPT_FHIR = frozenset({"metadata", ".well-known"})
_JOB_OPERATIONS = frozenset({"$export", "$import"})
_HEAVY_OPERATIONS = frozenset({"$everything"})
_ADMIN_JOB_ACTIONS = frozenset({"reconcile", "rebuild"})


class WorkKind(StrEnum):
    EXEMPT = "exempt"  # probes, metrics, metadata, smart-configuration: never limited
    ADMIN = "admin"  # /admin reads and cancellations: not rate-limited (operators)
    LIGHT = "light"  # one token
    HEAVY = "heavy"  # one token and one heavy slot for as long as it runs
    JOB = "job"  # a token (FHIR routes), a heavy slot, and the tenant's running jobs bound


@dataclass(frozen=True, slots=True)
class HeavySearch:
    """Where a search starts to count as heavy (``POLYFHIR_HEAVY_SEARCH_*``)."""

    complexity: int = 8
    include_count: int = 100

    def is_heavy(self, resource_type: str | None, pairs: Pairs) -> bool:
        try:
            analysis = analyze(parse_search(resource_type, pairs))
        except FhirError:
            return False  # the route answers 400; a token was enough
        features = set(analysis.features)
        if features & HEAVY_FEATURES:
            return True
        count = analysis.query.count or 0
        if QueryFeature.INCLUDE in features and count > self.include_count:
            return True
        return analysis.complexity >= self.complexity


def _admin_kind(method: str, segments: list[str]) -> WorkKind:
    if method == "POST" and segments == ["reindex"]:
        return WorkKind.JOB
    if method == "POST" and len(segments) == 3 and segments[0] == "backends":
        return WorkKind.JOB if segments[2] in _ADMIN_JOB_ACTIONS else WorkKind.ADMIN
    return WorkKind.ADMIN


def _operation_kind(method: str, operation: str) -> WorkKind:
    if operation in _JOB_OPERATIONS and method in ("GET", "POST"):
        return WorkKind.JOB
    return WorkKind.HEAVY if operation in _HEAVY_OPERATIONS else WorkKind.LIGHT


def _fhir_kind(method: str, segments: list[str], pairs: Pairs, heavy: HeavySearch) -> WorkKind:
    if segments and segments[0] in _EXEMPT_FHIR:
        return WorkKind.EXEMPT
    operation = next((s for s in segments if s.startswith("$")), None)
    if operation is not None:
        return _operation_kind(method, operation)
    if not segments:  # the base: system search, or a batch/transaction bundle
        if method == "POST":
            return WorkKind.HEAVY
        return WorkKind.HEAVY if heavy.is_heavy(None, pairs) else WorkKind.LIGHT
    if "_history" in segments:
        return WorkKind.LIGHT
    searched = _searched_type(method, segments)
    if searched is None:
        return WorkKind.LIGHT
    return WorkKind.HEAVY if heavy.is_heavy(searched, pairs) else WorkKind.LIGHT


def _searched_type(method: str, segments: list[str]) -> str | None:
    """The type a search (or a conditional update/delete) of this path searches, if any."""
    if segments[-1] == "_search":
        segments = segments[:-1]
        method = "GET"
    if len(segments) == 1 and method in ("GET", "PUT", "DELETE", "PATCH"):
        return segments[0]
    if len(segments) == 3 and method == "GET":
        return segments[2]  # a compartment search
    return None


def classify(method: str, path: str, pairs: Pairs, heavy: HeavySearch) -> WorkKind:
    """The kind of work of one request (``pairs``: its query string and any form body)."""
    segments = [s for s in path.split("/") if s]
    if not segments:
        return WorkKind.EXEMPT
    if segments[0] == "fhir":
        return _fhir_kind(method.upper(), segments[1:], pairs, heavy)
    if segments[0] == "admin":
        return _admin_kind(method.upper(), segments[1:])
    return WorkKind.EXEMPT


def reads_form_body(method: str, path: str) -> bool:
    """``POST .../_search``: the parameters are (also) in the form body."""
    return method.upper() == "POST" and path.rstrip("/").endswith("/_search")
