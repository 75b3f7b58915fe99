"""The configuration advisor: analyze queries, validate configs, suggest, simulate. Pure.

The gateway's ``/admin/advisor/*`` endpoints are thin wrappers around these
functions; nothing here touches a backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from polyfhir_core.config import CompositeConfig, ConfigError, QueryFeature, parse_config
from polyfhir_core.config.roles import BackendRole
from polyfhir_core.errors import BadRequest
from polyfhir_core.planning.analyzer import QueryAnalysis, analyze
from polyfhir_core.planning.plan import BackendState, MergeStrategy
from polyfhir_core.planning.router import EXECUTABLE, NATURAL_ROLE, RoutingContext, plan_query
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.resource_validation import is_resource_type
from polyfhir_core.search import SearchQuery, parse_search

MIN_SHARE = 0.05
"""A feature below this share of the workload does not justify a secondary."""

_SUGGESTED_KIND = {
    BackendRole.SEARCH: "opensearch",
    BackendRole.GRAPH: "neo4j",
    BackendRole.TERMINOLOGY: "postgresql",
}


def parse_query_line(line: str) -> SearchQuery:
    """``Patient?name=x``, ``/Patient?...`` or ``?_content=x`` (system search)."""
    text = line.strip().removeprefix("/")
    path, _, query = text.partition("?")
    rtype = path.rstrip("/") or None
    if rtype is not None and not is_resource_type(rtype):
        raise BadRequest(f"{line!r}: {rtype!r} is not a resource type")
    return parse_search(rtype, parse_qsl(query, keep_blank_values=True))


def route_queries(
    lines: Sequence[str],
    config: CompositeConfig,
    states: Mapping[str, BackendState] | None = None,
    estimates: Mapping[QueryFeature, int] | None = None,
    registry: SearchParameterRegistry | None = None,
) -> list[dict[str, Any]]:
    """Per query: features, complexity, the route of every part and the merge strategy."""
    ctx = RoutingContext(config, dict(states or {}), EXECUTABLE, dict(estimates or {}))
    out = []
    for line in lines:
        plan = plan_query(analyze(parse_query_line(line), registry), ctx)
        out.append({"query": line, **plan.to_json()})
    return out


def validate_document(data: Any) -> dict[str, Any]:
    """Problems (the config is unusable) and warnings (probably a mistake) of a config document."""
    if not isinstance(data, dict):
        raise BadRequest("a configuration document is a JSON object")
    try:
        config = parse_config(data)
    except ConfigError as exc:
        problems = [_finding(p.code, p.message, p.location) for p in exc.problems]
        return {"valid": False, "problems": problems, "warnings": []}
    warnings = [_finding(w.code, w.message, w.location) for w in config.warnings()]
    return {"valid": True, "problems": [], "warnings": warnings}


def _finding(code: str, message: str, location: str) -> dict[str, str]:
    return {"code": code, "message": message, "location": location}


@dataclass(frozen=True, slots=True)
class WorkloadQuery:
    query: str
    frequency: float


def suggest(
    workload: Sequence[WorkloadQuery],
    config: CompositeConfig,
    registry: SearchParameterRegistry | None = None,
) -> dict[str, Any]:
    """Which secondaries and routing rules pay off for ``workload``, with reasons."""
    total = sum(w.frequency for w in workload)
    if total <= 0:
        raise BadRequest("the workload needs at least one query with a positive frequency")
    analyses = [(analyze(parse_query_line(w.query), registry), w.frequency) for w in workload]
    shares = _feature_shares(analyses, total)
    complexity = sum(a.complexity * f for a, f in analyses) / total
    text_alone = sum(f for a, f in analyses if a.text_clauses and a.text_only) / total
    suggestions = [
        role_suggestion(role, config, shares, text_alone)
        for role in (BackendRole.SEARCH, BackendRole.GRAPH, BackendRole.TERMINOLOGY)
    ]
    return {
        "queries": len(workload),
        "averageComplexity": round(complexity, 2),
        "featureShares": {f.value: round(s, 4) for f, s in shares.items()},
        "suggestions": suggestions,
    }


def _feature_shares(
    analyses: list[tuple[QueryAnalysis, float]], total: float
) -> dict[QueryFeature, float]:
    shares: dict[QueryFeature, float] = {}
    for analysis, frequency in analyses:
        for feature in analysis.features:
            shares[feature] = shares.get(feature, 0.0) + frequency / total
    return dict(sorted(shares.items(), key=lambda item: -item[1]))


def role_suggestion(
    role: BackendRole,
    config: CompositeConfig,
    shares: Mapping[QueryFeature, float],
    text_alone: float | None = None,
) -> dict[str, Any]:
    """Whether a secondary of ``role`` pays off for a workload with these feature shares
    (``text_alone``: the share of full-text-only queries, when known)."""
    features = sorted(
        (f for f, r in NATURAL_ROLE.items() if r is role), key=list(QueryFeature).index
    )
    share = sum(shares.get(f, 0.0) for f in features)
    configured = [b.id for b in config.secondaries if b.role is role]
    executable = any((role, f) in EXECUTABLE for f in features)
    out: dict[str, Any] = {
        "role": role.value,
        "features": [f.value for f in features],
        "share": round(share, 4),
        "configured": configured,
    }
    if share < MIN_SHARE:
        out["advice"] = "not_needed" if not configured else "optional"
        out["reason"] = (
            f"{share:.1%} of the workload uses {'/'.join(f.value for f in features)}; "
            f"below {MIN_SHARE:.0%} the primary serves it well enough"
        )
        return out
    target = configured[0] if configured else role.value
    out["routingRule"] = {
        "name": f"{role.value}-features",
        "match": {"features": [f.value for f in features if shares.get(f)]},
        "target": target,
        "fallback": "primary",
    }
    if not configured:
        out["advice"] = "add"
        out["backend"] = {"id": role.value, "role": role.value, "kind": _SUGGESTED_KIND[role]}
    else:
        out["advice"] = "keep"
    out["reason"] = _reason(role, share, executable, text_alone)
    return out


def _reason(role: BackendRole, share: float, executable: bool, text_alone: float | None) -> str:
    used = f"{share:.1%} of the workload needs it"
    if not executable:
        return (
            f"{used}; the gateway does not query {role.value} backends yet, so until that "
            "indexer lands the primary answers (the rule is ready for it)"
        )
    if role is BackendRole.GRAPH:
        return (
            f"{used}: chains and _has are walked on the graph when the cost model prices "
            "the walk below the primary's joins (two or more steps, or a wide terminal); "
            "a one-step chain with a selective terminal stays on the primary"
        )
    if text_alone is None:
        return f"{used}: full text is answered by the search backend"
    mixed = share - text_alone
    return (
        f"{used}: {text_alone:.1%} is full text alone (answered by the search backend in "
        f"relevance order, {MergeStrategy.SECONDARY_FILTERED.value}) and {mixed:.1%} mixes "
        f"full text with other filters (its ids restrict the primary, "
        f"{MergeStrategy.PRIMARY_ENRICHED.value})"
    )
