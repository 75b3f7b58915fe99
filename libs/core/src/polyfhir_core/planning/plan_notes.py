"""The plan's notes for humans (explain): what a route means for text and freshness."""

from __future__ import annotations

from polyfhir_core.config.routing import QueryFeature
from polyfhir_core.contracts.search_index import TextField
from polyfhir_core.planning.analyzer import QueryAnalysis
from polyfhir_core.planning.config_tables import ConfigTables
from polyfhir_core.planning.plan import RouteDecision, RouteReason


def primary_text_notes(analysis: QueryAnalysis, decisions: list[RouteDecision]) -> list[str]:
    text = next((d for d in decisions if d.feature is QueryFeature.FULL_TEXT), None)
    if text is None or text.secondary:
        return []
    if any(c.field is TextField.STRING for c in analysis.text_clauses):
        return [
            "the primary has no :text on string parameters: such parameters are ignored "
            "(Prefer: handling=lenient) or rejected (strict) when the primary answers"
        ]
    return []


def terminology_notes(decisions: list[RouteDecision]) -> list[str]:
    terms = next((d for d in decisions if d.feature is QueryFeature.TERMINOLOGY), None)
    if terms is None or not terms.secondary:
        return []
    return [
        f"{terms.backend} resolves :below/:above/:in/:not-in to codes; the primary filters "
        "by them (one code list per system) and applies everything else"
    ]


def freshness_notes(tables: ConfigTables, decisions: list[RouteDecision]) -> list[str]:
    notes = []
    for d in decisions:
        if not d.secondary or d.reason is RouteReason.NO_FALLBACK:
            continue
        sync = tables.sync[d.backend]
        if sync.waits_for(d.role):
            notes.append(f"{d.backend} is written synchronously: read-your-writes")
        elif sync.max_read_lag_ms is None:
            notes.append(
                f"{d.backend}: lag not checked (max_read_lag_ms unset), reads may be stale"
            )
        else:
            notes.append(
                f"{d.backend}: used only if it has applied the tenant's last change "
                f"(waits up to {sync.max_read_lag_ms} ms, else the primary answers)"
            )
    return notes
