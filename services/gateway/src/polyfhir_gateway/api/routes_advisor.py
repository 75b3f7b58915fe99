"""The configuration advisor (``/admin/advisor/*``): nothing here touches a backend.

GET  /admin/advisor/health    -> the primary (checked now), each secondary's state, promotions
GET  /admin/advisor/backends  -> every configured backend's effective settings and state
GET  /admin/advisor/backends/{kind} -> what an engine kind can do, costs, and its backends
POST /admin/advisor/analyze   {"queries": ["Patient?_text=x", ...], "config": <optional>}
     -> per query: features, complexity, routes under that (or the current) configuration
POST /admin/advisor/validate  <a composite config document>
     -> {"valid", "problems", "warnings"}
POST /admin/advisor/suggest   {"workload": [{"query": "...", "frequency": 120}, ...],
                               "config": <optional document; default: the current one>}
                              or {"workload": {"read_write_ratio": 9, "full_text_ratio": 0.2,
                                  "chain_ratio": 0.3, "queries_per_day": 1000000}}
     -> which secondaries and routing rules pay off, with reasons
POST /admin/advisor/simulate  {"config": <document>, "queries": [...],
                               "health": {"search": "unhealthy"}, "estimates": {"full_text": 5000}}
     -> routes under that configuration and those states

Bad input (not JSON, wrong shapes, unknown query types) -> 400 OperationOutcome.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Response

from polyfhir_core.config import (
    BackendKind,
    CompositeConfig,
    ConfigError,
    QueryFeature,
    parse_config,
)
from polyfhir_core.errors import BadRequest, Issue, NotFound
from polyfhir_core.input_limits import check_json_depth
from polyfhir_core.planning import BackendState
from polyfhir_core.planning.advisor import (
    WorkloadQuery,
    route_queries,
    suggest,
    validate_document,
)
from polyfhir_core.planning.backend_report import describe_backend, describe_kind
from polyfhir_core.planning.workload import WorkloadShape, suggest_for_shape
from polyfhir_gateway.context import FhirContext, fhir_context

router = APIRouter(prefix="/admin/advisor")
Ctx = Annotated[FhirContext, Depends(fhir_context)]

_MAX_BODY = 1024 * 1024


async def _body(fc: FhirContext) -> Any:
    raw = await fc.request.body()
    if len(raw) > _MAX_BODY:
        raise BadRequest(f"advisor requests are limited to {_MAX_BODY} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from exc
    check_json_depth(body)
    return body


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _queries(body: dict[str, Any]) -> list[str]:
    queries = body.get("queries")
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise BadRequest('"queries" must be a list of query strings such as "Patient?_text=x"')
    return queries


def _config(fc: FhirContext, document: Any) -> CompositeConfig:
    if document is None:
        return fc.pipeline.config
    if not isinstance(document, dict):
        raise BadRequest('"config" must be a composite configuration object')
    try:
        return parse_config(document)
    except ConfigError as exc:
        issues = [
            Issue(
                "invalid", f"{p.code}: {p.message}", expression=(p.location,) if p.location else ()
            )
            for p in exc.problems
        ]
        raise BadRequest("the configuration is invalid", issues) from None


def _states(raw: Any) -> dict[str, BackendState]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest('"health" maps backend ids to healthy, unhealthy or lagging')
    try:
        return {str(k): BackendState(v) for k, v in raw.items()}
    except ValueError as exc:
        raise BadRequest(f'"health": {exc}') from None


def _estimates(raw: Any) -> dict[QueryFeature, int]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, int) for v in raw.values()):
        raise BadRequest('"estimates" maps features (e.g. full_text) to candidate id counts')
    try:
        return {QueryFeature(k): v for k, v in raw.items()}
    except ValueError as exc:
        raise BadRequest(f'"estimates": {exc}') from None


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/health")
async def health(fc: Ctx) -> Response:
    """``pass`` (everything healthy), ``warn`` (a secondary is bypassed or replaced by its
    standby: answers still come, from the primary or the standby), ``fail`` (the primary)."""
    try:
        await fc.store.check_ready()
        primary: dict[str, Any] = {"id": fc.pipeline.config.primary.id, "state": "healthy"}
    except Exception as exc:  # reported, not raised: this endpoint describes failures
        primary = {"id": fc.pipeline.config.primary.id, "state": "unhealthy", "error": str(exc)}
    monitor = fc.pipeline.monitor
    secondaries = monitor.to_json()
    degraded = any(b["state"] != "healthy" for b in secondaries)
    status = "fail" if primary["state"] != "healthy" else "warn" if degraded else "pass"
    return _json(
        {
            "status": status,
            "primary": primary,
            "secondaries": secondaries,
            "promotions": monitor.promotions(),
        }
    )


@router.get("/backends")
async def backends(fc: Ctx) -> Response:
    config = fc.pipeline.config
    states = {b["id"]: b["state"] for b in fc.pipeline.monitor.to_json()}  # monitored only
    out = []
    for backend in config.backends:
        entry = describe_backend(config, backend)
        if backend.id in states:
            entry["state"] = states[backend.id]
        out.append(entry)
    return _json({"backends": out})


@router.get("/backends/{kind}")
async def backend_kind(kind: str, fc: Ctx) -> Response:
    try:
        known = BackendKind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in BackendKind)
        raise NotFound(f"no backend kind {kind!r} (one of {kinds})") from None
    return _json(describe_kind(fc.pipeline.config, known))


@router.post("/analyze")
async def analyze(fc: Ctx) -> Response:
    """Routes under the running configuration and health, or under ``config`` (validated:
    an invalid one is a 400 listing its problems; its backends are taken as healthy)."""
    body = _object(await _body(fc))
    given = body.get("config")
    config = _config(fc, given)
    states = fc.pipeline.monitor.snapshot() if given is None else {}
    results = route_queries(_queries(body), config, states, registry=fc.pipeline.registry)
    return _json({"results": results})


@router.post("/validate")
async def validate(fc: Ctx) -> Response:
    return _json(validate_document(await _body(fc)))


@router.post("/suggest")
async def suggest_config(fc: Ctx) -> Response:
    body = _object(await _body(fc))
    workload = body.get("workload")
    if isinstance(workload, dict):  # the workload's shape rather than its queries
        shape = WorkloadShape.parse(workload)
        return _json(suggest_for_shape(shape, _config(fc, body.get("config"))))
    if not isinstance(workload, list) or not workload:
        raise BadRequest(
            '"workload" must be a non-empty list of {"query", "frequency"} or a shape '
            '{"read_write_ratio", "full_text_ratio", "chain_ratio", "queries_per_day"}'
        )
    items = []
    for item in workload:
        query, frequency = (
            (item.get("query"), item.get("frequency", 1))
            if isinstance(item, dict)
            else (None, None)
        )
        if not isinstance(query, str) or not isinstance(frequency, int | float) or frequency < 0:
            raise BadRequest(
                'each workload item is {"query": "<Type?params>", "frequency": <n >= 0>}'
            )
        items.append(WorkloadQuery(query, float(frequency)))
    config = _config(fc, body.get("config"))
    return _json(suggest(items, config, fc.pipeline.registry))


@router.post("/simulate")
async def simulate(fc: Ctx) -> Response:
    body = _object(await _body(fc))
    config = _config(fc, body.get("config"))
    results = route_queries(
        _queries(body),
        config,
        _states(body.get("health")),
        _estimates(body.get("estimates")),
        fc.pipeline.registry,
    )
    return _json({"results": results})
