"""The executor's terminology path: ``:below`` ``:above`` ``:in`` ``:not-in`` as code lists.

For a terminology part the router sent to the terminology backend:

1. after the same freshness check as every secondary (``sync.max_read_lag_ms``)
   and under the backend's query timeout, the terminology index resolves each
   value to its codes (``TerminologyIndex.code_set``): ``system|code`` for
   ``:below`` / ``:above`` (the code and its descendants / ancestors), a value
   set canonical for ``:in`` / ``:not-in``; the values of one parameter are ORed,
   so their code sets are united;
2. the parameter is rewritten into a plain token parameter listing the codes
   (``code=sys|a,sys|b,...``; ``:not-in`` becomes ``:not``), which the primary
   compiles to one code list per system (``= ANY($1)`` / ``json_each``), fast
   for tens of thousands of codes;
3. the primary runs the rewritten query: every other filter, sort, paging,
   includes.

A code without a system (``code:below=A00``: the closure is per system), a set
cut at the backend's limit (``complete=False``; ``options.max_codes``, default
100,000), a backend that is down, slow, lagging or failing, a value set or code
system it does not know: :class:`Fallback`, and the primary answers the
whole query from its own closure tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace

from polyfhir_core.config import BackendConfig, CompositeConfig
from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_core.contracts.terminology import (
    CodeSet,
    CodeSetKind,
    CodeSetRequest,
    TerminologyIndex,
)
from polyfhir_core.errors import NotFound
from polyfhir_core.planning import ConfigTables, QueryPlan, RouteDecision
from polyfhir_core.search import SearchParam, SearchQuery, split_unescaped, unescape
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline.consistency import is_fresh, read_lag_bound
from polyfhir_gateway.pipeline.fallback import Fallback

DEFAULT_MAX_CODES = 100_000
Codes = dict[tuple[str, str], None]  # ordered set of (system, code)


def token_value(system: str, code: str) -> str:
    """``system|code`` with the search separators escaped (``\\`` ``|`` ``,`` ``$``)."""

    def escaped(text: str) -> str:
        for ch in ("\\", "|", ",", "$"):
            text = text.replace(ch, "\\" + ch)
        return text

    return f"{escaped(system)}|{escaped(code)}"


def code_set_requests(param: SearchParam, limit: int) -> list[CodeSetRequest]:
    """One request per value of a terminology parameter (``Fallback`` when one cannot be asked)."""
    kind = CodeSetKind(param.modifier or "")
    if kind in (CodeSetKind.IN, CodeSetKind.NOT_IN):
        return [CodeSetRequest(kind, value_set_url=unescape(v), limit=limit) for v in param.values]
    requests = []
    for value in param.values:
        parts = split_unescaped(value, "|")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise Fallback("no_system", f"{param.raw_name}={value}: the closure needs system|code")
        requests.append(CodeSetRequest(kind, system=parts[0], code=parts[1], limit=limit))
    return requests


def rewritten(param: SearchParam, codes: Codes) -> SearchParam | None:
    """The token parameter the primary filters by; ``None``: it filters nothing out."""
    values = tuple(token_value(system, code) for system, code in codes)
    if param.modifier == CodeSetKind.NOT_IN.value:
        return SearchParam(param.name, values, "not") if values else None
    return SearchParam(param.name, values)


class TerminologyCodes:
    def __init__(
        self,
        store: PrimaryStore,
        config: CompositeConfig,
        indexes: Mapping[str, TerminologyIndex],
        tables: ConfigTables,
        timeouts_ms: Mapping[str, int],
    ) -> None:
        self.store, self.config, self.indexes = store, config, dict(indexes)
        self.tables, self.timeouts_ms = tables, dict(timeouts_ms)

    def _max_codes(self, backend: BackendConfig) -> int:
        configured = backend.options.get("max_codes")
        return configured if isinstance(configured, int) and configured > 0 else DEFAULT_MAX_CODES

    async def rewrite(
        self, ctx: TenantContext, query: SearchQuery, plan: QueryPlan, decision: RouteDecision
    ) -> SearchQuery | None:
        """``query`` with its terminology parameters as code lists; ``None``: it matches
        nothing (an empty code set under ``:below``, ``:above`` or ``:in``)."""
        backend = self.config.backend(decision.backend)
        index = self.indexes.get(backend.id)
        if index is None:
            raise Fallback("no_client", f"the gateway has no client for {backend.id}", backend.id)
        part = plan.analysis.part(decision.feature)
        routed = set(part.params) if part is not None else set()
        limit = self._max_codes(backend)
        asked = {p: code_set_requests(p, limit) for p in query.params if p in routed}
        answers = await self._code_sets(
            ctx, index, backend, [r for rs in asked.values() for r in rs]
        )
        params: list[SearchParam] = []
        for param in query.params:
            if param not in asked:
                params.append(param)
                continue
            codes: Codes = {}
            for request in asked[param]:
                codes.update(dict.fromkeys(answers[request].codes))
            if not codes and param.modifier != CodeSetKind.NOT_IN.value:
                return None
            new = rewritten(param, codes)
            if new is not None:
                params.append(new)
        return replace(query, params=tuple(params))

    async def _code_sets(
        self,
        ctx: TenantContext,
        index: TerminologyIndex,
        backend: BackendConfig,
        requests: list[CodeSetRequest],
    ) -> dict[CodeSetRequest, CodeSet]:
        lag_ms = read_lag_bound(self.tables.sync[backend.id], backend)
        deadline = (self.timeouts_ms[backend.id] + (lag_ms or 0)) / 1000
        answers: dict[CodeSetRequest, CodeSet] | None = None
        try:
            async with asyncio.timeout(deadline):
                # freshness first: codes of a value set still being applied could be stale
                if lag_ms is None or await is_fresh(ctx, self.store, index, lag_ms):
                    answers = {r: await index.code_set(ctx, r) for r in dict.fromkeys(requests)}
        except TimeoutError:
            detail = f"no answer within {deadline * 1000:.0f} ms"
            raise Fallback("timeout", detail, backend.id) from None
        except NotFound as exc:  # the primary's closure answers what the backend lacks
            raise Fallback("not_found", str(exc), backend.id) from None
        except Exception as exc:  # the terminology service failed: the primary answers
            raise Fallback("error", str(exc) or type(exc).__name__, backend.id) from None
        if answers is None:
            detail = f"{backend.id} has not applied the tenant's last change"
            raise Fallback("lagging", detail, backend.id)
        cut = [r for r, answer in answers.items() if not answer.complete]
        if cut:
            raise Fallback("over_code_cap", f"a code set exceeds {cut[0].limit} codes", backend.id)
        return answers
