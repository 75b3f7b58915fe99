"""An in-memory ``TerminologyIndex``: code systems, value sets and concept maps in dicts.

A small real implementation, so the gateway's operations and modifier routing
can be tested without the terminology-indexer: concepts with displays,
designations, parents (``is-a``) and properties; value sets as include rules
(explicit codes, a whole system, or ``is-a`` a code) and inline ``compose``;
concept maps as element lists. Every definition belongs to one tenant.
Switches a test flips: ``failure`` (raised by every call), ``applied_positions``
(freshness), ``max_expansion`` (``QueryTooComplex`` above it), ``ready_error``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from polyfhir_core.contracts.secondary import AppliedVersion, IndexedVersion
from polyfhir_core.contracts.terminology import (
    CodeSet,
    CodeSetKind,
    CodeSetRequest,
    Coding,
    ConceptProperty,
    Designation,
    ExpandRequest,
    Expansion,
    ExpansionEntry,
    LookupRequest,
    LookupResult,
    SubsumesRequest,
    Subsumption,
    TerminologyIndex,
    TerminologyStats,
    TranslateMatch,
    TranslateRequest,
    TranslateResult,
    ValidateCodeRequest,
    ValidateCodeResult,
)
from polyfhir_core.errors import Issue, NotFound, NotSupported, QueryTooComplex
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext

Json = dict[str, Any]
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Concept:
    code: str
    display: str | None = None
    parents: tuple[str, ...] = ()
    designations: tuple[Designation, ...] = ()
    inactive: bool = False


@dataclass
class CodeSystemEntry:
    url: str
    name: str
    version: str | None
    concepts: dict[str, Concept]

    def ancestors(self, code: str) -> set[str]:
        seen, stack = {code}, [code]
        while stack:
            for parent in self.concepts[stack.pop()].parents:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

    def descendants(self, code: str) -> set[str]:
        return {c for c in self.concepts if code in self.ancestors(c)}


@dataclass(frozen=True)
class Include:
    """One include rule: ``codes`` of ``system``; none: the whole system; ``is_a``: subtrees."""

    system: str
    codes: tuple[str, ...] = ()
    is_a: bool = False


@dataclass
class ValueSetEntry:
    url: str
    version: str | None
    includes: tuple[Include, ...]


@dataclass(frozen=True)
class MapElement:
    source: Coding
    target: Coding | None
    equivalence: str


@dataclass
class Tenant:
    systems: dict[str, CodeSystemEntry] = field(default_factory=dict)
    value_sets: dict[str, ValueSetEntry] = field(default_factory=dict)
    value_set_ids: dict[str, str] = field(default_factory=dict)  # id -> url
    maps: dict[str, list[MapElement]] = field(default_factory=dict)
    map_ids: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeTerminologyIndex:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    failure: Exception | None = None
    ready_error: Exception | None = None
    applied_positions: dict[int, int] = field(default_factory=dict)
    max_expansion: int = 1000
    code_set_requests: list[CodeSetRequest] = field(default_factory=list)

    # -- test set-up ---------------------------------------------------------------------

    def tenant(self, name: str) -> Tenant:
        return self.tenants.setdefault(name, Tenant())

    def code_system(
        self, tenant: str, url: str, concepts: Iterable[Concept], version: str | None = None
    ) -> None:
        name = url.rstrip("/").rsplit("/", 1)[-1]
        by_code = {c.code: c for c in concepts}
        self.tenant(tenant).systems[url] = CodeSystemEntry(url, name, version, by_code)

    def value_set(
        self, tenant: str, url: str, includes: Iterable[Include], resource_id: str | None = None
    ) -> None:
        t = self.tenant(tenant)
        t.value_sets[url] = ValueSetEntry(url, None, tuple(includes))
        if resource_id is not None:
            t.value_set_ids[resource_id] = url

    def concept_map(
        self, tenant: str, url: str, elements: Iterable[MapElement], resource_id: str | None = None
    ) -> None:
        t = self.tenant(tenant)
        t.maps[url] = list(elements)
        if resource_id is not None:
            t.map_ids[resource_id] = url

    # -- helpers -------------------------------------------------------------------------

    def _of(self, ctx: TenantContext) -> Tenant:
        if self.failure is not None:
            raise self.failure
        return self.tenants.get(ctx.tenant.value, Tenant())

    def _system(self, t: Tenant, url: str) -> CodeSystemEntry:
        system = t.systems.get(url)
        if system is None:
            raise NotFound(f"unknown code system {url}")
        return system

    def _value_set(
        self, t: Tenant, url: str | None, vid: str | None, inline: Json | None
    ) -> ValueSetEntry:
        if inline is not None:
            return ValueSetEntry(inline.get("url", ""), inline.get("version"), _includes(inline))
        if vid is not None:
            url = t.value_set_ids.get(vid)
            if url is None:
                raise NotFound(f"unknown value set ValueSet/{vid}")
        assert url is not None
        found = t.value_sets.get(url.partition("|")[0])
        if found is None:
            raise NotFound(f"unknown value set {url}")
        return found

    def _members(self, t: Tenant, vs: ValueSetEntry) -> list[tuple[CodeSystemEntry, Concept]]:
        out: dict[tuple[str, str], tuple[CodeSystemEntry, Concept]] = {}
        for include in vs.includes:
            system = self._system(t, include.system)
            codes = set(include.codes) if include.codes else set(system.concepts)
            if include.is_a:
                codes = {d for c in include.codes for d in system.descendants(c)}
            for code in sorted(codes):
                if code in system.concepts:
                    out[(system.url, code)] = (system, system.concepts[code])
        return list(out.values())

    # -- the contract --------------------------------------------------------------------

    async def lookup(self, ctx: TenantContext, request: LookupRequest) -> LookupResult:
        system = self._system(self._of(ctx), request.system)
        concept = system.concepts.get(request.code)
        if concept is None:
            raise NotFound(f"{request.code} is not a code of {request.system}")
        properties = [ConceptProperty("parent", {"valueCode": p}) for p in concept.parents]
        properties += [
            ConceptProperty("child", {"valueCode": c.code})
            for c in system.concepts.values()
            if concept.code in c.parents
        ]
        if request.properties:
            properties = [p for p in properties if p.code in request.properties]
        designations = concept.designations
        if request.display_language is not None:
            designations = tuple(d for d in designations if d.language == request.display_language)
        return LookupResult(
            system.name, concept.display, system.version, False, designations, tuple(properties)
        )

    async def validate_code(
        self, ctx: TenantContext, request: ValidateCodeRequest
    ) -> ValidateCodeResult:
        t = self._of(ctx)
        if request.code_system is not None:
            system = self._system(t, request.code_system)
            allowed = {(system.url, c): v for c, v in system.concepts.items()}
        else:
            vs = self._value_set(t, request.value_set_url, request.value_set_id, request.value_set)
            allowed = {(s.url, c.code): c for s, c in self._members(t, vs)}
        for coding in request.codings:
            concept = allowed.get((coding.system, coding.code))
            if concept is None:
                continue
            names = {concept.display, *(d.value for d in concept.designations)}
            if coding.display is not None and coding.display not in names:
                message = f"display {coding.display!r} is not a display of {coding.code}"
                return ValidateCodeResult(False, message, concept.display)
            return ValidateCodeResult(True, None, concept.display)
        codes = ", ".join(f"{c.system}|{c.code}" for c in request.codings)
        return ValidateCodeResult(False, f"{codes} is not valid here")

    async def subsumes(self, ctx: TenantContext, request: SubsumesRequest) -> Subsumption:
        system = self._system(self._of(ctx), request.system)
        for code in (request.code_a, request.code_b):
            if code not in system.concepts:
                raise NotFound(f"{code} is not a code of {request.system}")
        if request.code_a == request.code_b:
            return Subsumption.EQUIVALENT
        if request.code_a in system.ancestors(request.code_b):
            return Subsumption.SUBSUMES
        if request.code_b in system.ancestors(request.code_a):
            return Subsumption.SUBSUMED_BY
        return Subsumption.NOT_SUBSUMED

    async def expand(self, ctx: TenantContext, request: ExpandRequest) -> Expansion:
        t = self._of(ctx)
        vs = self._value_set(t, request.value_set_url, request.value_set_id, request.value_set)
        members = self._members(t, vs)
        if request.active_only:
            members = [(s, c) for s, c in members if not c.inactive]
        if request.filter is not None:
            members = [(s, c) for s, c in members if _matches_filter(c, request.filter)]
        if request.count is None and len(members) > self.max_expansion:
            # the issue code survives the trip over the internal API (the class does not)
            message = f"the expansion has {len(members)} codes, over the limit"
            raise QueryTooComplex(message, [Issue(code="too-costly", diagnostics=message)])
        end = None if request.count is None else request.offset + request.count
        page = members[request.offset : end]
        contains = tuple(
            ExpansionEntry(
                s.url,
                c.code,
                c.display,
                s.version,
                c.inactive,
                designations=c.designations if request.include_designations else (),
            )
            for s, c in page
        )
        return Expansion(
            vs.url, vs.version, "urn:uuid:fake", NOW, len(members), request.offset, contains
        )

    async def translate(self, ctx: TenantContext, request: TranslateRequest) -> TranslateResult:
        t = self._of(ctx)
        url = request.concept_map_url
        if request.concept_map_id is not None:
            url = t.map_ids.get(request.concept_map_id)
            if url is None:
                raise NotFound(f"unknown ConceptMap/{request.concept_map_id}")
        urls = [url.partition("|")[0]] if url is not None else sorted(t.maps)
        matches = []
        for map_url in urls:
            if map_url not in t.maps:
                raise NotFound(f"unknown concept map {map_url}")
            for e in t.maps[map_url]:
                source, target = (e.target, e.source) if request.reverse else (e.source, e.target)
                if source is None or (source.system, source.code) != (request.system, request.code):
                    continue
                if request.target_system and (
                    target is None or target.system != request.target_system
                ):
                    continue
                matches.append(TranslateMatch(e.equivalence, target, map_url))
        if not matches:
            return TranslateResult(False, f"no mapping for {request.system}|{request.code}")
        return TranslateResult(True, None, tuple(matches))

    async def code_set(self, ctx: TenantContext, request: CodeSetRequest) -> CodeSet:
        t = self._of(ctx)
        self.code_set_requests.append(request)
        if request.kind in (CodeSetKind.IN, CodeSetKind.NOT_IN):
            vs = self._value_set(t, request.value_set_url, None, None)
            codes = [(s.url, c.code) for s, c in self._members(t, vs)]
        else:
            assert request.system is not None and request.code is not None
            system = self._system(t, request.system)
            if request.code not in system.concepts:
                raise NotFound(f"{request.code} is not a code of {request.system}")
            below = request.kind is CodeSetKind.BELOW
            found = system.descendants(request.code) if below else system.ancestors(request.code)
            codes = [(system.url, c) for c in sorted(found)]
        return CodeSet(tuple(codes[: request.limit]), len(codes) <= request.limit)

    async def stats(self, ctx: TenantContext) -> TerminologyStats:
        t = self._of(ctx)
        concepts = sum(len(s.concepts) for s in t.systems.values())
        return TerminologyStats(len(t.systems), len(t.value_sets), len(t.maps), concepts)

    # -- secondary -----------------------------------------------------------------------

    async def positions(self, ctx: TenantContext) -> dict[int, int]:
        return dict(self.applied_positions)

    async def wait_applied(
        self, ctx: TenantContext, versions: list[AppliedVersion], timeout_ms: int
    ) -> bool:
        return True

    async def wait_positions(
        self, ctx: TenantContext, positions: dict[int, int], timeout_ms: int
    ) -> bool:
        return all(self.applied_positions.get(p, -1) >= v for p, v in positions.items())

    async def check_ready(self) -> None:
        if self.ready_error is not None:
            raise self.ready_error

    async def versions(self, ctx: TenantContext, keys: list[ResourceKey]) -> list[IndexedVersion]:
        return []

    async def scan(
        self, ctx: TenantContext, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        return []

    async def remove(self, ctx: TenantContext, keys: list[ResourceKey]) -> int:
        return 0

    async def drop_tenant(self, ctx: TenantContext) -> int:
        return len(self.tenants.pop(ctx.tenant.value, Tenant()).systems)


def _includes(inline: Json) -> tuple[Include, ...]:
    """``compose.include``: concept lists, whole systems and ``is-a`` filters."""
    out = []
    for include in (inline.get("compose") or {}).get("include") or []:
        system = include.get("system")
        if not isinstance(system, str):
            raise NotSupported("the fake expands only includes with a system")
        codes = tuple(c["code"] for c in include.get("concept") or [])
        filters = include.get("filter") or []
        if filters:
            f = filters[0]
            if f.get("op") != "is-a":
                raise NotSupported(f"filter op {f.get('op')!r} is not supported")
            out.append(Include(system, (f["value"],), is_a=True))
        else:
            out.append(Include(system, codes))
    return tuple(out)


def _matches_filter(concept: Concept, text: str) -> bool:
    words = [w.lower() for w in text.split()]
    names = [concept.display or "", *(d.value for d in concept.designations)]
    return any(
        all(any(n.startswith(w) for n in name.lower().split()) for w in words) for name in names
    )


def _conforms(index: FakeTerminologyIndex) -> TerminologyIndex:
    return index  # mypy checks that the fake satisfies the Protocol
