"""``$lookup``, ``$subsumes`` and the code-system side of ``$validate-code``."""

from __future__ import annotations

from polyfhir_core.contracts.terminology import (
    Coding,
    ConceptProperty,
    Designation,
    LookupRequest,
    LookupResult,
    SubsumesRequest,
    Subsumption,
    ValidateCodeResult,
)
from polyfhir_core.errors import NotFound
from polyfhir_terminology.service_layer.expansion import (
    CLOSURE_LIMIT,
    designation_of,
    resolve_code_system,
)
from polyfhir_terminology.service_layer.ports import (
    CodeSystemRecord,
    ConceptRecord,
    TerminologyStore,
)

DEFAULT_PROPERTIES = ("display", "designation", "parent", "child")
_SPECIAL = frozenset({"display", "designation", "child", "definition", "inactive"})


class CodeSystems:
    def __init__(self, store: TerminologyStore) -> None:
        self._store = store

    async def code_system(self, tenant: str, system: str, version: str | None) -> CodeSystemRecord:
        cs = await resolve_code_system(self._store, tenant, system, version)
        if cs is None:
            named = f"{system}|{version}" if version else system
            raise NotFound(f"CodeSystem {named} is unknown")
        return cs

    async def concept(self, tenant: str, cs: CodeSystemRecord, code: str) -> ConceptRecord | None:
        found = await self._store.concepts(tenant, cs.resource_id, [code])
        return found[0] if found else None

    async def lookup(self, tenant: str, request: LookupRequest) -> LookupResult:
        cs = await self.code_system(tenant, request.system, request.version)
        concept = await self.concept(tenant, cs, request.code)
        if concept is None:
            raise NotFound(f"the code {request.code} is not in CodeSystem {request.system}")
        wanted = request.properties or DEFAULT_PROPERTIES
        designations = tuple(
            designation_of(row)
            for row in await self._store.designations(tenant, cs.resource_id, [concept.code])
        )
        return LookupResult(
            name=cs.name or cs.url,
            display=display_in(concept.display, designations, request.display_language),
            version=cs.version,
            abstract=concept.abstract,
            designations=designations if "designation" in wanted else (),
            properties=await self._properties(tenant, cs, concept, wanted),
        )

    async def _properties(
        self, tenant: str, cs: CodeSystemRecord, concept: ConceptRecord, wanted: tuple[str, ...]
    ) -> tuple[ConceptProperty, ...]:
        names = [name for name in wanted if name not in _SPECIAL]
        found = (
            [
                ConceptProperty(p.property, p.value)
                for p in await self._store.properties(tenant, cs.resource_id, [concept.code], names)
            ]
            if names
            else []
        )
        if "child" in wanted:
            children = await self._store.children(tenant, cs.resource_id, concept.code)
            found += [ConceptProperty("child", {"valueCode": child}) for child in children]
        if "definition" in wanted and concept.definition:
            found.append(ConceptProperty("definition", {"valueString": concept.definition}))
        if "inactive" in wanted:
            found.append(ConceptProperty("inactive", {"valueBoolean": concept.inactive}))
        return tuple(found)

    async def subsumes(self, tenant: str, request: SubsumesRequest) -> Subsumption:
        cs = await self.code_system(tenant, request.system, request.version)
        for code in (request.code_a, request.code_b):
            if await self.concept(tenant, cs, code) is None:
                raise NotFound(f"the code {code} is not in CodeSystem {request.system}")
        if request.code_a == request.code_b:
            return Subsumption.EQUIVALENT
        rid = cs.resource_id
        if request.code_a in await self._store.ancestors(
            tenant, rid, request.code_b, CLOSURE_LIMIT
        ):
            return Subsumption.SUBSUMES
        if request.code_b in await self._store.ancestors(
            tenant, rid, request.code_a, CLOSURE_LIMIT
        ):
            return Subsumption.SUBSUMED_BY
        return Subsumption.NOT_SUBSUMED

    async def validate(
        self, tenant: str, coding: Coding, version: str | None, language: str | None
    ) -> ValidateCodeResult:
        cs = await self.code_system(tenant, coding.system, version)
        concept = await self.concept(tenant, cs, coding.code)
        if concept is None:
            return ValidateCodeResult(
                False, f"the code {coding.code} is not in CodeSystem {coding.system}"
            )
        designations = tuple(
            designation_of(row)
            for row in await self._store.designations(tenant, cs.resource_id, [concept.code])
        )
        display = display_in(concept.display, designations, language)
        return checked_display(coding, concept.display, designations, display)


def display_in(
    display: str | None, designations: tuple[Designation, ...], language: str | None
) -> str | None:
    if language is None:
        return display
    for d in designations:
        if d.language and (d.language == language or d.language.startswith(f"{language}-")):
            return d.value
    return display


def checked_display(
    coding: Coding,
    display: str | None,
    designations: tuple[Designation, ...],
    shown: str | None,
) -> ValidateCodeResult:
    """Valid unless the coding's display is none of the concept's display and designations
    (compared without case and surrounding space)."""
    if coding.display is None:
        return ValidateCodeResult(True, None, shown)
    wanted = coding.display.strip().casefold()
    known = [t for t in (display, *(d.value for d in designations)) if t]
    if any(t.strip().casefold() == wanted for t in known):
        return ValidateCodeResult(True, None, shown)
    message = (
        f"the display {coding.display!r} is not a display of {coding.system}#{coding.code}"
        f" (expected {shown!r})"
    )
    return ValidateCodeResult(False, message, shown)
