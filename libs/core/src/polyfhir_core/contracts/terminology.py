"""The contract between the gateway and the terminology secondary (the terminology-indexer).

The terminology-indexer keeps each tenant's CodeSystems, ValueSets and
ConceptMaps (fed by change events, like every secondary) as concepts,
designations, properties, an ``is-a`` closure, cached ValueSet expansions and
ConceptMap groups. The gateway holds a :class:`TerminologyIndex`, in practice a
client proxy derived from the Protocol (:data:`TERMINOLOGY_INDEX`, served at
``POST /internal/v1/terminology/{call}``), and answers the FHIR terminology
operations (``$lookup``, ``$validate-code``, ``$subsumes``, ``$expand``,
``$translate``) and the token modifiers ``:below``, ``:above``, ``:in`` and
``:not-in`` with it.

Every call is bound to the tenant of ``ctx``: a definition of another tenant
is never seen. A definition the tenant does not have is a
:class:`~polyfhir_core.errors.NotFound` (404); an unsupported filter or
parameter a :class:`~polyfhir_core.errors.NotSupported` (400); an expansion
over the configured size limit a ``too-costly`` error (``QueryTooComplex``).
A FHIR value of a concept property travels as the FHIR JSON element it is
(``{"valueCode": "x"}``), so every ``value[x]`` type passes unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from polyfhir_core.contracts.contract import Contract
from polyfhir_core.contracts.secondary import IndexedSecondary
from polyfhir_core.tenancy import TenantContext

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str
    display: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Designation:
    value: str
    language: str | None = None
    use: Coding | None = None


@dataclass(frozen=True, slots=True)
class ConceptProperty:
    """One property of a concept: ``code`` and one FHIR ``value[x]`` element.

    For example ``ConceptProperty("parent", {"valueCode": "A00"})``.
    """

    code: str
    value: Json


@dataclass(frozen=True, slots=True)
class LookupRequest:
    """``CodeSystem/$lookup``.

    ``properties`` empty means the default set (display, designations, parent, child).
    """

    system: str
    code: str
    version: str | None = None
    properties: tuple[str, ...] = ()
    display_language: str | None = None


@dataclass(frozen=True, slots=True)
class LookupResult:
    name: str
    display: str | None
    version: str | None = None
    abstract: bool = False
    designations: tuple[Designation, ...] = ()
    properties: tuple[ConceptProperty, ...] = ()


@dataclass(frozen=True, slots=True)
class ValidateCodeRequest:
    """``CodeSystem/$validate-code`` (``code_system`` set) or ``ValueSet/$validate-code``.

    The value set is one of ``value_set_url`` (canonical, ``|version`` allowed),
    ``value_set_id`` (the instance form) or ``value_set`` (inline, POST).
    ``codings``: the one coding asked about, or a CodeableConcept's codings (valid
    when any is). A ``display`` on a coding is checked against the concept's
    display and designations.
    """

    codings: tuple[Coding, ...]
    code_system: str | None = None
    code_system_version: str | None = None
    value_set_url: str | None = None
    value_set_id: str | None = None
    value_set: Json | None = None
    display_language: str | None = None


@dataclass(frozen=True, slots=True)
class ValidateCodeResult:
    result: bool
    message: str | None = None
    display: str | None = None


class Subsumption(StrEnum):
    EQUIVALENT = "equivalent"
    SUBSUMES = "subsumes"
    SUBSUMED_BY = "subsumed-by"
    NOT_SUBSUMED = "not-subsumed"


@dataclass(frozen=True, slots=True)
class SubsumesRequest:
    """``CodeSystem/$subsumes``: how ``code_a`` relates to ``code_b`` in ``system``."""

    system: str
    code_a: str
    code_b: str
    version: str | None = None


@dataclass(frozen=True, slots=True)
class ExpandRequest:
    """``ValueSet/$expand``; the value set as in :class:`ValidateCodeRequest`.

    ``filter``: text matched (word prefix, case-insensitive) against displays
    and designations; ``count`` ``None`` means up to the configured limit.
    """

    value_set_url: str | None = None
    value_set_id: str | None = None
    value_set: Json | None = None
    filter: str | None = None
    offset: int = 0
    count: int | None = None
    active_only: bool = False
    include_designations: bool = False
    display_language: str | None = None


@dataclass(frozen=True, slots=True)
class ExpansionEntry:
    system: str
    code: str
    display: str | None = None
    version: str | None = None
    inactive: bool = False
    abstract: bool = False
    designations: tuple[Designation, ...] = ()


@dataclass(frozen=True, slots=True)
class Expansion:
    """One page of an expansion and its ``total`` (every code, before paging)."""

    url: str | None
    version: str | None
    identifier: str
    timestamp: datetime
    total: int
    offset: int
    contains: tuple[ExpansionEntry, ...]
    parameters: tuple[ConceptProperty, ...] = ()


@dataclass(frozen=True, slots=True)
class TranslateRequest:
    """``ConceptMap/$translate``.

    The map by ``concept_map_url`` / ``concept_map_id``, or every map of the
    tenant matching ``source`` / ``target`` (value set canonicals) and
    ``target_system``.
    """

    system: str
    code: str
    version: str | None = None
    concept_map_url: str | None = None
    concept_map_id: str | None = None
    source: str | None = None
    target: str | None = None
    target_system: str | None = None
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class TranslateMatch:
    equivalence: str
    concept: Coding | None
    source: str | None = None  # the ConceptMap's canonical


@dataclass(frozen=True, slots=True)
class TranslateResult:
    result: bool
    message: str | None = None
    matches: tuple[TranslateMatch, ...] = ()


class CodeSetKind(StrEnum):
    """The token modifier a code set answers."""

    BELOW = "below"  # the code and every descendant (is-a)
    ABOVE = "above"  # the code and every ancestor
    IN = "in"  # the codes of a value set's expansion
    NOT_IN = "not-in"  # the same codes; the primary excludes them


@dataclass(frozen=True, slots=True)
class CodeSetRequest:
    """The codes a token modifier stands for.

    ``system`` + ``code`` for below/above, ``value_set_url`` for in/not-in.
    """

    kind: CodeSetKind
    system: str | None = None
    code: str | None = None
    value_set_url: str | None = None
    limit: int = 100_000


@dataclass(frozen=True, slots=True)
class CodeSet:
    """``(system, code)`` pairs; ``complete`` is ``False`` when cut at the limit."""

    codes: tuple[tuple[str, str], ...]
    complete: bool


@dataclass(frozen=True, slots=True)
class TerminologyStats:
    code_systems: int
    value_sets: int
    concept_maps: int
    concepts: int
    positions: dict[int, int] = field(default_factory=dict)


@runtime_checkable
class TerminologyIndex(IndexedSecondary, Protocol):
    """Everything the gateway may ask of the terminology secondary."""

    async def lookup(self, ctx: TenantContext, request: LookupRequest) -> LookupResult: ...

    async def validate_code(
        self, ctx: TenantContext, request: ValidateCodeRequest
    ) -> ValidateCodeResult: ...

    async def subsumes(self, ctx: TenantContext, request: SubsumesRequest) -> Subsumption: ...

    async def expand(self, ctx: TenantContext, request: ExpandRequest) -> Expansion: ...

    async def translate(self, ctx: TenantContext, request: TranslateRequest) -> TranslateResult: ...

    async def code_set(self, ctx: TenantContext, request: CodeSetRequest) -> CodeSet:
        """The codes behind ``:below``, ``:above``, ``:in``, ``:not-in`` (the primary filters)."""

    async def stats(self, ctx: TenantContext) -> TerminologyStats: ...


TERMINOLOGY_INDEX = Contract[TerminologyIndex](
    TerminologyIndex, "/internal/v1/terminology", "terminology index"
)
"""The terminology contract as remote calls (served by the terminology-indexer service)."""
