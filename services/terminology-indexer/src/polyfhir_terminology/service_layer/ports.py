"""What the service layer needs from the terminology store (implemented in ``adapters/``).

Every read names the tenant: a definition of another tenant is never seen.
Transient failures (engine unreachable) raise
:class:`polyfhir_core.errors.ServiceUnavailable`; a definition the engine refuses
for good raises :class:`DefinitionRefused`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from polyfhir_bus.indexing import batch as indexing
from polyfhir_bus.indexing.batch import Outcome
from polyfhir_bus.indexing.queries import TenantIndex
from polyfhir_terminology.domain.codesystem import DesignationRow
from polyfhir_terminology.domain.conceptmap import MapRow
from polyfhir_terminology.domain.items import TerminologyItem

__all__ = [
    "CachedExpansion",
    "CodeSystemRecord",
    "ConceptMapRecord",
    "ConceptRecord",
    "DefinitionRefused",
    "ItemResult",
    "Outcome",
    "PropertyRecord",
    "TerminologyStore",
    "ValueSetRecord",
]

Json = dict[str, Any]
ItemResult = indexing.ItemResult[TerminologyItem]


class DefinitionRefused(Exception):
    """The engine refused a definition for a reason retrying will not fix."""


@dataclass(frozen=True, slots=True)
class CodeSystemRecord:
    resource_id: str
    url: str
    version: str | None
    name: str | None
    hierarchy_meaning: str | None


@dataclass(frozen=True, slots=True)
class ConceptRecord:
    code: str
    display: str | None
    definition: str | None
    inactive: bool
    abstract: bool


@dataclass(frozen=True, slots=True)
class PropertyRecord:
    code: str
    property: str
    value: Json
    text: str


@dataclass(frozen=True, slots=True)
class ValueSetRecord:
    resource_id: str
    resource_version: int
    url: str | None
    version: str | None
    resource: Json


@dataclass(frozen=True, slots=True)
class ConceptMapRecord:
    resource_id: str
    url: str | None
    version: str | None


@dataclass(frozen=True, slots=True)
class CachedExpansion:
    """A value set's full expansion as stored, and what it was computed from."""

    key: str
    generation: int  # the tenant's definition generation it was computed at
    body: bytes


class TerminologyStore(TenantIndex, Protocol):
    async def ensure_schema(self) -> None: ...

    async def apply(self, items: list[TerminologyItem]) -> list[ItemResult]:
        """Write definitions guarded by version; a tombstone removes the definition."""

    async def record_positions(self, positions: dict[int, int]) -> None: ...

    async def code_systems(self, tenant: str, url: str) -> list[CodeSystemRecord]:
        """Every CodeSystem of ``url``, the most recently updated first."""

    async def concepts(self, tenant: str, cs_id: str, codes: list[str]) -> list[ConceptRecord]: ...

    async def all_concepts(self, tenant: str, cs_id: str) -> list[ConceptRecord]: ...

    async def descendants(self, tenant: str, cs_id: str, code: str, limit: int) -> list[str]:
        """The code and every code it subsumes (the closure), at most ``limit``."""

    async def ancestors(self, tenant: str, cs_id: str, code: str, limit: int) -> list[str]: ...

    async def properties(
        self, tenant: str, cs_id: str, codes: list[str], names: list[str] | None
    ) -> list[PropertyRecord]: ...

    async def property_values(self, tenant: str, cs_id: str, name: str) -> list[tuple[str, str]]:
        """``(code, text)`` of every concept holding property ``name``."""

    async def children(self, tenant: str, cs_id: str, code: str) -> list[str]: ...

    async def designations(
        self, tenant: str, cs_id: str, codes: list[str] | None
    ) -> list[DesignationRow]:
        """The designations of ``codes`` (``None``: of every concept)."""

    async def value_set(
        self, tenant: str, *, url: str | None = None, resource_id: str | None = None
    ) -> list[ValueSetRecord]:
        """Value sets by canonical URL (most recently updated first) or by id."""

    async def concept_maps(
        self,
        tenant: str,
        *,
        url: str | None = None,
        resource_id: str | None = None,
        source: str | None = None,
        target: str | None = None,
    ) -> list[ConceptMapRecord]: ...

    async def map_rows(
        self, tenant: str, map_ids: list[str], system: str, code: str, *, reverse: bool
    ) -> list[tuple[str, MapRow]]:
        """``(map id, row)`` whose source (``reverse``: target) is ``system|code``."""

    async def generation(self, tenant: str) -> int:
        """Raised by every definition change of the tenant."""

    async def cached_expansion(self, tenant: str, key: str) -> CachedExpansion | None: ...

    async def expansion_generation(self, tenant: str, key: str) -> int | None:
        """The generation of the stored expansion (``None``: none stored), without its body."""

    async def store_expansion(
        self,
        tenant: str,
        key: str,
        generation: int,
        dependencies: set[tuple[str, str]],
        body: bytes,
    ) -> bool:
        """Keep an expansion unless a definition changed since ``generation`` (``False``)."""

    async def counts(self, tenant: str) -> tuple[int, int, int, int]:
        """(code systems, value sets, concept maps, concepts) of the tenant."""

    async def close(self) -> None: ...
