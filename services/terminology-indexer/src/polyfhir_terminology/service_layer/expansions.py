"""``$expand``: a value set's members (cached), then the text filter, activeOnly, paging.

A stored value set's full membership is computed once and kept in the store's
expansion cache, keyed by the value set's resource id and version and dropped
when any CodeSystem or ValueSet it read changes (recorded dependencies; a
definition applied while an expansion was computed keeps that expansion out of
the cache: the tenant's generation moved). An inline value set (POST) is
expanded without being stored or cached.

The size limit (``POLYFHIR_TERMINOLOGY_MAX_EXPANSION``) bounds what one answer
lists, not the value set: a page (``count``) of any value set is fine and says
the ``total``; ``count`` above the limit lists the limit. Only a request
without ``count`` whose codes from ``offset`` on are more than the limit, i.e.
the expansion without paging, is refused as ``too-costly``.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from polyfhir_core.contracts.terminology import (
    Coding,
    ConceptProperty,
    Designation,
    ExpandRequest,
    Expansion,
    ExpansionEntry,
)
from polyfhir_core.errors import BadRequest, Issue, NotFound, QueryTooComplex
from polyfhir_terminology.domain.valueset import expansion_plan, split_canonical
from polyfhir_terminology.service_layer.expansion import Evaluation, Member, resolve_value_set
from polyfhir_terminology.service_layer.ports import TerminologyStore, ValueSetRecord
from polyfhir_terminology.service_layer.text_index import TextIndex, text_matcher

Json = dict[str, Any]
DECODED_EXPANSIONS = 32
TEXT_INDEXES = 4  # word indexes of the last filtered expansions (a few MB each at ICD size)


@dataclass(frozen=True, slots=True)
class ValueSetMembers:
    url: str | None
    version: str | None
    identifier: str
    members: tuple[Member, ...]


def encode_members(members: tuple[Member, ...]) -> bytes:
    return orjson.dumps(
        [
            [
                m.system,
                m.version,
                m.code,
                m.display,
                m.inactive,
                m.abstract,
                [[d.value, d.language, *_use(d.use)] for d in m.designations],
            ]
            for m in members
        ]
    )


def _use(use: Coding | None) -> list[str | None]:
    return [None, None, None] if use is None else [use.system, use.code, use.display]


def decode_members(body: bytes) -> tuple[Member, ...]:
    return tuple(
        Member(
            s,
            v,
            c,
            d,
            bool(i),
            bool(a),
            tuple(
                Designation(val, lang, Coding(us, uc, ud) if uc else None)
                for val, lang, us, uc, ud in ds
            ),
        )
        for s, v, c, d, i, a, ds in orjson.loads(body)
    )


class Expander:
    def __init__(self, store: TerminologyStore, max_expansion: int) -> None:
        self._store = store
        self.max_expansion = max_expansion
        # the last decoded expansions by (tenant, key), valid while the stored row keeps
        # its generation (a change deletes the row; a recomputed one has a new generation)
        self._decoded: OrderedDict[tuple[str, str], tuple[int, tuple[Member, ...]]] = OrderedDict()
        # the filter's word index of a stored expansion, by its identifier (text_index.py)
        self._text: OrderedDict[str, TextIndex] = OrderedDict()

    def _remember(
        self, tenant: str, key: str, generation: int, members: tuple[Member, ...]
    ) -> None:
        self._decoded[(tenant, key)] = (generation, members)
        self._decoded.move_to_end((tenant, key))
        while len(self._decoded) > DECODED_EXPANSIONS:
            self._decoded.popitem(last=False)

    async def value_set_members(
        self,
        tenant: str,
        *,
        url: str | None = None,
        resource_id: str | None = None,
        inline: Json | None = None,
    ) -> ValueSetMembers:
        """Exactly one of ``url`` (``|version`` allowed), ``resource_id``, ``inline``."""
        if sum(x is not None for x in (url, resource_id, inline)) != 1:
            raise BadRequest("name the value set by exactly one of url, id or an inline valueSet")
        if inline is not None:
            if inline.get("resourceType", "ValueSet") != "ValueSet":
                raise BadRequest("the inline valueSet is not a ValueSet")
            evaluation = Evaluation(self._store, tenant)
            members = await evaluation.members(expansion_plan(inline))
            return ValueSetMembers(
                inline.get("url"),
                inline.get("version"),
                f"urn:uuid:{uuid.uuid4()}",
                tuple(members.values()),
            )
        if url is not None:
            record = await resolve_value_set(self._store, tenant, url)
        else:
            found = await self._store.value_set(tenant, resource_id=resource_id)
            if not found:
                raise NotFound(f"ValueSet/{resource_id} is unknown")
            record = found[0]
        return await self._cached(tenant, record)

    async def _cached(self, tenant: str, record: ValueSetRecord) -> ValueSetMembers:
        key = f"{record.resource_id}|{record.resource_version}"
        held = await self._store.expansion_generation(tenant, key)
        decoded = self._decoded.get((tenant, key))
        if held is not None and decoded is not None and decoded[0] == held:
            members, generation = decoded[1], held  # the stored expansion, already decoded
        elif held is not None and (cached := await self._store.cached_expansion(tenant, key)):
            members, generation = decode_members(cached.body), cached.generation
            self._remember(tenant, key, generation, members)
        else:
            generation, members = await self._compute(tenant, key, record)
        identifier = uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}|{key}|{generation}")
        return ValueSetMembers(record.url, record.version, f"urn:uuid:{identifier}", members)

    async def _compute(
        self, tenant: str, key: str, record: ValueSetRecord
    ) -> tuple[int, tuple[Member, ...]]:
        """Evaluate the value set and keep it (unless a definition changed meanwhile)."""
        generation = await self._store.generation(tenant)
        evaluation = Evaluation(self._store, tenant)
        computed = await evaluation.members(expansion_plan(record.resource))
        members = tuple(computed.values())
        dependencies = evaluation.dependencies | {("id", record.resource_id)}
        if record.url:
            dependencies.add(("vs", split_canonical(record.url)[0]))
        body = encode_members(members)
        if await self._store.store_expansion(tenant, key, generation, dependencies, body):
            self._remember(tenant, key, generation, members)
        return generation, members

    async def expand(self, tenant: str, request: ExpandRequest) -> Expansion:
        if request.offset < 0 or (request.count is not None and request.count < 0):
            raise BadRequest("offset and count must not be negative")
        found = await self.value_set_members(
            tenant,
            url=request.value_set_url,
            resource_id=request.value_set_id,
            inline=request.value_set,
        )
        members = self._filtered(found, request)
        total = len(members)
        if request.count is None and total - request.offset > self.max_expansion:
            raise too_costly(total, self.max_expansion)
        count = min(request.count if request.count is not None else total, self.max_expansion)
        page = members[request.offset : request.offset + count]
        return Expansion(
            found.url,
            found.version,
            found.identifier,
            datetime.now(UTC),
            total,
            request.offset,
            tuple(_entry(m, request) for m in page),
            _parameters(request),
        )

    def _filtered(self, found: ValueSetMembers, request: ExpandRequest) -> list[Member]:
        """``filter`` (word prefixes) and ``activeOnly``, in expansion order."""
        members: Sequence[Member] = found.members
        if request.filter and request.value_set is not None:  # inline: seen once, scanned
            matches = text_matcher(request.filter)
            members = [m for m in members if matches(m)]
        elif request.filter:
            index = self._text_index(found)
            members = [found.members[i] for i in index.matching(request.filter)]
        return [m for m in members if not (request.active_only and m.inactive)]

    def _text_index(self, found: ValueSetMembers) -> TextIndex:
        index = self._text.get(found.identifier)
        if index is None:
            index = self._text[found.identifier] = TextIndex(found.members)
            while len(self._text) > TEXT_INDEXES:
                self._text.popitem(last=False)
        self._text.move_to_end(found.identifier)
        return index


def too_costly(total: int, limit: int) -> QueryTooComplex:
    message = (
        f"the expansion has {total} codes, more than the limit of {limit} listed at once:"
        " ask for a page (count, offset) or narrow it (filter)"
    )
    return QueryTooComplex(message, [Issue("too-costly", message)])


def member_display(member: Member, language: str | None) -> str | None:
    if language is None:
        return member.display
    for d in member.designations:
        if d.language and (d.language == language or d.language.startswith(f"{language}-")):
            return d.value
    return member.display


def _entry(member: Member, request: ExpandRequest) -> ExpansionEntry:
    return ExpansionEntry(
        member.system,
        member.code,
        member_display(member, request.display_language),
        member.version,
        member.inactive,
        member.abstract,
        member.designations if request.include_designations else (),
    )


def _parameters(request: ExpandRequest) -> tuple[ConceptProperty, ...]:
    params = [ConceptProperty("offset", {"valueInteger": request.offset})]
    if request.count is not None:
        params.append(ConceptProperty("count", {"valueInteger": request.count}))
    if request.filter:
        params.append(ConceptProperty("filter", {"valueString": request.filter}))
    if request.active_only:
        params.append(ConceptProperty("activeOnly", {"valueBoolean": True}))
    if request.include_designations:
        params.append(ConceptProperty("includeDesignations", {"valueBoolean": True}))
    if request.display_language:
        params.append(ConceptProperty("displayLanguage", {"valueCode": request.display_language}))
    return tuple(params)
