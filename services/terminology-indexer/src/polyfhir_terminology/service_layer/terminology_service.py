"""The terminology-indexer's side of ``polyfhir_core.contracts.terminology.TerminologyIndex``:
the kit's freshness and reconciler queries (:class:`IndexQueries`) plus the
terminology operations and the code sets behind the token modifiers."""

from __future__ import annotations

from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_bus.indexing.queries import IndexQueries, bounded
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.contracts.terminology import (
    CodeSet,
    CodeSetKind,
    CodeSetRequest,
    Coding,
    ExpandRequest,
    Expansion,
    LookupRequest,
    LookupResult,
    SubsumesRequest,
    Subsumption,
    TerminologyStats,
    TranslateRequest,
    TranslateResult,
    ValidateCodeRequest,
    ValidateCodeResult,
)
from polyfhir_core.errors import BadRequest
from polyfhir_core.tenancy import TenantContext
from polyfhir_terminology.domain.items import TERMINOLOGY_TYPES
from polyfhir_terminology.service_layer.code_systems import CodeSystems, checked_display
from polyfhir_terminology.service_layer.expansions import Expander, member_display
from polyfhir_terminology.service_layer.ports import TerminologyStore
from polyfhir_terminology.service_layer.translation import Translator

MAX_CODES = 10
MAX_CODE_SET = 1_000_000
DEFAULT_MAX_EXPANSION = 10_000


class TerminologyService(IndexQueries):
    """Every call is bound to one tenant (``ctx``); every statement filters by it."""

    def __init__(
        self,
        store: TerminologyStore,
        freshness: Freshness,
        max_expansion: int = DEFAULT_MAX_EXPANSION,
    ) -> None:
        super().__init__(store, freshness)
        self._store = store
        self._code_systems = CodeSystems(store)
        self._expander = Expander(store, max_expansion)
        self._translator = Translator(store)

    async def wait_applied(
        self, ctx: TenantContext, versions: list[AppliedVersion], timeout_ms: int
    ) -> bool:
        """Only CodeSystem, ValueSet and ConceptMap versions are waited for: this index holds
        nothing of any other resource, so a write of those is applied here as it commits
        (a SyncMode wait for a Patient write does not time out on it)."""
        held = [v for v in versions if v.resource_type in TERMINOLOGY_TYPES]
        return await super().wait_applied(ctx, held, timeout_ms)

    async def lookup(self, ctx: TenantContext, request: LookupRequest) -> LookupResult:
        return await self._code_systems.lookup(ctx.tenant.value, request)

    async def subsumes(self, ctx: TenantContext, request: SubsumesRequest) -> Subsumption:
        return await self._code_systems.subsumes(ctx.tenant.value, request)

    async def expand(self, ctx: TenantContext, request: ExpandRequest) -> Expansion:
        return await self._expander.expand(ctx.tenant.value, request)

    async def translate(self, ctx: TenantContext, request: TranslateRequest) -> TranslateResult:
        return await self._translator.translate(ctx.tenant.value, request)

    async def validate_code(
        self, ctx: TenantContext, request: ValidateCodeRequest
    ) -> ValidateCodeResult:
        """Valid when any coding is (a CodeableConcept); else the first failure's message."""
        bounded("codings", len(request.codings), MAX_CODES)
        if not request.codings:
            raise BadRequest("$validate-code needs a code, a coding or a codeableConcept")
        tenant = ctx.tenant.value
        in_value_set = (request.value_set_url, request.value_set_id, request.value_set)
        results = []
        for given in request.codings:
            system = given.system or request.code_system
            if not system:
                raise BadRequest(f"the code {given.code} has no system")
            coding = Coding(system, given.code, given.display, given.version)
            if any(v is not None for v in in_value_set):
                result = await self._in_value_set(tenant, coding, request)
            elif request.code_system is not None:
                version = coding.version or request.code_system_version
                result = await self._code_systems.validate(
                    tenant, coding, version, request.display_language
                )
            else:
                raise BadRequest("$validate-code needs a code system or a value set")
            if result.result:
                return result
            results.append(result)
        return results[0]

    async def _in_value_set(
        self, tenant: str, coding: Coding, request: ValidateCodeRequest
    ) -> ValidateCodeResult:
        found = await self._expander.value_set_members(
            tenant,
            url=request.value_set_url,
            resource_id=request.value_set_id,
            inline=request.value_set,
        )
        member = next(
            (m for m in found.members if m.system == coding.system and m.code == coding.code),
            None,
        )
        if member is None:
            named = found.url or request.value_set_id or "the inline value set"
            return ValidateCodeResult(
                False, f"the code {coding.system}#{coding.code} is not in the value set {named}"
            )
        shown = member_display(member, request.display_language)
        return checked_display(coding, member.display, member.designations, shown)

    async def code_set(self, ctx: TenantContext, request: CodeSetRequest) -> CodeSet:
        bounded("limit", request.limit, MAX_CODE_SET)
        tenant = ctx.tenant.value
        if request.kind in (CodeSetKind.BELOW, CodeSetKind.ABOVE):
            if not request.system or not request.code:
                raise BadRequest(f":{request.kind.value} needs a system and a code")
            cs = await self._code_systems.code_system(tenant, request.system, None)
            read = (
                self._store.descendants
                if request.kind is CodeSetKind.BELOW
                else self._store.ancestors
            )
            codes = await read(tenant, cs.resource_id, request.code, request.limit + 1)
            pairs = tuple((request.system, code) for code in codes)
        else:
            if not request.value_set_url:
                raise BadRequest(f":{request.kind.value} needs a value set URL")
            found = await self._expander.value_set_members(tenant, url=request.value_set_url)
            pairs = tuple((m.system, m.code) for m in found.members[: request.limit + 1])
        return CodeSet(pairs[: request.limit], complete=len(pairs) <= request.limit)

    async def stats(self, ctx: TenantContext) -> TerminologyStats:
        code_systems, value_sets, maps, concepts = await self._store.counts(ctx.tenant.value)
        return TerminologyStats(
            code_systems, value_sets, maps, concepts, await self._freshness.positions()
        )
