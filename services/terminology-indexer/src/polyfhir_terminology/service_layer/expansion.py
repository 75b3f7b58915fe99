"""Evaluate an expansion plan (:mod:`polyfhir_terminology.domain.valueset`) against the store.

The result is every member of the value set, in a stable order (listed
concepts in the order listed, filter results by code), with what an
expansion shows of each: display, inactive, abstract, designations. What the
evaluation read is recorded as dependencies (``("cs", url)``, ``("vs", url)``)
so a cached expansion is dropped when any of them changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from polyfhir_core.contracts.terminology import Coding, Designation
from polyfhir_core.errors import BadRequest, NotFound
from polyfhir_terminology.domain.codesystem import DesignationRow
from polyfhir_terminology.domain.valueset import (
    CODE_PROPERTIES,
    ExpansionPlan,
    Filter,
    ListedConcept,
    Section,
    expansion_plan,
    split_canonical,
)
from polyfhir_terminology.service_layer.ports import (
    CodeSystemRecord,
    ConceptRecord,
    TerminologyStore,
    ValueSetRecord,
)

MAX_IMPORT_DEPTH = 8
CLOSURE_LIMIT = 10_000_000
DESIGNATIONS_BY_CODE = 2_000  # more members: read the system's designations at once
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Member:
    system: str
    version: str | None
    code: str
    display: str | None
    inactive: bool = False
    abstract: bool = False
    designations: tuple[Designation, ...] = ()


Members = dict[Key, Member]


def designation_of(row: DesignationRow) -> Designation:
    has_use = row.use_system is not None and row.use_code is not None
    use = Coding(row.use_system or "", row.use_code or "", row.use_display) if has_use else None
    return Designation(row.value, row.language, use)


async def resolve_code_system(
    store: TerminologyStore, tenant: str, system: str, version: str | None
) -> CodeSystemRecord | None:
    """The CodeSystem of ``system`` (``version`` if given, else the most recently updated)."""
    found = await store.code_systems(tenant, system)
    if version is not None:
        return next((cs for cs in found if cs.version == version), None)
    return found[0] if found else None


async def resolve_value_set(store: TerminologyStore, tenant: str, url: str) -> ValueSetRecord:
    base, version = split_canonical(url)
    found = await store.value_set(tenant, url=base)
    if version is not None:
        found = [vs for vs in found if vs.version == version]
    if not found:
        raise NotFound(f"ValueSet {url} is unknown")
    return found[0]


class Evaluation:
    """One expansion's evaluation (its dependencies and per-system memos)."""

    def __init__(self, store: TerminologyStore, tenant: str) -> None:
        self._store = store
        self._tenant = tenant
        self.dependencies: set[tuple[str, str]] = set()
        self._all: dict[str, list[ConceptRecord]] = {}

    async def members(self, plan: ExpansionPlan, visiting: frozenset[str] = frozenset()) -> Members:
        if len(visiting) > MAX_IMPORT_DEPTH:
            raise BadRequest(f"value set imports nest deeper than {MAX_IMPORT_DEPTH}")
        result: Members = {}
        for section in plan.includes:
            result.update(await self._section(section, visiting))
        for section in plan.excludes:
            for key in await self._section(section, visiting):
                result.pop(key, None)
        if plan.inactive is False:
            result = {k: m for k, m in result.items() if not m.inactive}
        return result

    async def value_set_members(self, url: str, visiting: frozenset[str]) -> Members:
        self.dependencies.add(("vs", split_canonical(url)[0]))
        if url in visiting:
            raise BadRequest(f"value set {url} imports itself")
        record = await resolve_value_set(self._store, self._tenant, url)
        return await self.members(expansion_plan(record.resource), visiting | {url})

    async def _section(self, section: Section, visiting: frozenset[str]) -> Members:
        parts = [await self.value_set_members(url, visiting) for url in section.value_sets]
        if section.system is not None:
            parts.insert(0, await self._system_part(section))
        first, *rest = parts
        return {k: m for k, m in first.items() if all(k in other for other in rest)}

    async def _system_part(self, section: Section) -> Members:
        assert section.system is not None
        system = section.system
        self.dependencies.add(("cs", system))
        cs = await resolve_code_system(self._store, self._tenant, system, section.version)
        if cs is None:
            if section.filters or not section.concepts:
                raise NotFound(f"CodeSystem {system} is unknown")
            return {(system, c.code): _listed(system, section.version, c) for c in section.concepts}
        records = await self._selected(cs, section)
        designations: dict[str, list[Designation]] = {}
        codes = list(records) if len(records) <= DESIGNATIONS_BY_CODE else None
        for row in await self._store.designations(self._tenant, cs.resource_id, codes):
            if row.code in records:
                designations.setdefault(row.code, []).append(designation_of(row))
        listed = {c.code: c for c in section.concepts}
        members: Members = {}
        for code, record in records.items():
            member = Member(
                system,
                cs.version,
                code,
                record.display,
                record.inactive,
                record.abstract,
                tuple(designations.get(code, ())),
            )
            given = listed.get(code)
            if given is not None and given.display:
                member = replace(member, display=given.display)
            members[(system, code)] = member
        return members

    async def _selected(self, cs: CodeSystemRecord, section: Section) -> dict[str, ConceptRecord]:
        """The section's concepts of ``cs``: listed ones (unknown codes left out) or all,
        narrowed by every filter."""
        if section.concepts:
            codes = [c.code for c in section.concepts]
            found = {
                r.code: r for r in await self._store.concepts(self._tenant, cs.resource_id, codes)
            }
            selected = {code: found[code] for code in codes if code in found}
        elif not section.filters:
            return {r.code: r for r in await self._all_concepts(cs)}
        else:
            selected = None
        for f in section.filters:
            allowed = await self._filter_codes(cs, f)
            if selected is None:
                records = await self._store.concepts(self._tenant, cs.resource_id, sorted(allowed))
                selected = {r.code: r for r in sorted(records, key=lambda r: r.code)}
            else:
                selected = {c: r for c, r in selected.items() if c in allowed}
        return selected or {}

    async def _all_concepts(self, cs: CodeSystemRecord) -> list[ConceptRecord]:
        if cs.resource_id not in self._all:
            self._all[cs.resource_id] = await self._store.all_concepts(self._tenant, cs.resource_id)
        return self._all[cs.resource_id]

    async def _all_codes(self, cs: CodeSystemRecord) -> set[str]:
        return {r.code for r in await self._all_concepts(cs)}

    async def _filter_codes(self, cs: CodeSystemRecord, f: Filter) -> set[str]:
        store, tenant, rid = self._store, self._tenant, cs.resource_id
        if f.op in ("is-a", "descendent-of", "is-not-a"):
            below = set(await store.descendants(tenant, rid, f.value, CLOSURE_LIMIT))
            if f.op == "is-a":
                return below
            if f.op == "descendent-of":
                return below - {f.value}
            return await self._all_codes(cs) - below
        if f.op == "generalizes":
            return set(await store.ancestors(tenant, rid, f.value, CLOSURE_LIMIT))
        if f.property in CODE_PROPERTIES:
            values = [(code, code) for code in await self._all_codes(cs)]
        elif f.property == "display":
            values = [(r.code, r.display or "") for r in await self._all_concepts(cs)]
        else:
            values = await store.property_values(tenant, rid, f.property)
        return await self._matching(cs, f, values)

    async def _matching(self, cs: CodeSystemRecord, f: Filter, values: list[Key]) -> set[str]:
        if f.op == "=":
            return {code for code, text in values if text == f.value}
        if f.op == "in":
            wanted = set(f.listed_values())
            return {code for code, text in values if text in wanted}
        if f.op == "not-in":
            excluded = {code for code, text in values if text in set(f.listed_values())}
            return await self._all_codes(cs) - excluded
        if f.op == "regex":
            try:
                pattern = re.compile(f.value)
            except re.error as exc:
                raise BadRequest(f"the regex filter {f.value!r} is invalid: {exc}") from None
            return {code for code, text in values if pattern.fullmatch(text)}
        having = {code for code, _ in values}  # exists
        return having if f.value == "true" else await self._all_codes(cs) - having


def _listed(system: str, version: str | None, concept: ListedConcept) -> Member:
    designations = tuple(
        Designation(str(d.get("value")), d.get("language"))
        for d in concept.designations
        if isinstance(d.get("value"), str)
    )
    return Member(system, version, concept.code, concept.display, designations=designations)
