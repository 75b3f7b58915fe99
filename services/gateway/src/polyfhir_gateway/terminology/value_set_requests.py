"""``ValueSet/$expand``, ``ValueSet/$validate-code`` and ``ConceptMap/$translate``:
input parameters (R4 OperationDefinitions ValueSet-expand, ValueSet-validate-code,
ConceptMap-translate) read into the terminology contract's requests.

A value set is named by exactly one of ``url`` (+ ``valueSetVersion``, sent as
``url|version``), an inline ``valueSet`` (POST) or the instance id
(``ValueSet/[id]/...``); a concept map likewise by ``url`` (+
``conceptMapVersion``) or the instance id. Two of them at once is contradictory (400).
"""

from __future__ import annotations

from dataclasses import dataclass

from polyfhir_core.contracts.terminology import (
    Coding,
    ExpandRequest,
    TranslateRequest,
    ValidateCodeRequest,
)
from polyfhir_core.errors import BadRequest
from polyfhir_gateway.terminology.code_system_requests import agreed, codings_asked
from polyfhir_gateway.terminology.operation_input import Json, OperationInput

EXPAND_PARAMS = frozenset(
    {
        "url",
        "valueSet",
        "valueSetVersion",
        "filter",
        "offset",
        "count",
        "activeOnly",
        "includeDesignations",
        "displayLanguage",
        "excludeNested",  # the expansion is always flat: honoured
        "excludeNotForUI",
        "excludePostCoordinated",  # no post-coordination: honoured
    }
)
EXPAND_UNSUPPORTED = frozenset(
    {
        "context",
        "contextDirection",
        "date",
        "designation",
        "includeDefinition",
        "exclude-system",
        "system-version",
        "check-system-version",
        "force-system-version",
    }
)
VS_VALIDATE_PARAMS = frozenset(
    {
        "url",
        "valueSet",
        "valueSetVersion",
        "code",
        "system",
        "systemVersion",
        "display",
        "coding",
        "codeableConcept",
        "displayLanguage",
    }
)
VS_VALIDATE_UNSUPPORTED = frozenset({"context", "date", "abstract"})
TRANSLATE_PARAMS = frozenset(
    {
        "url",
        "conceptMapVersion",
        "code",
        "system",
        "version",
        "coding",
        "codeableConcept",
        "source",
        "target",
        "targetsystem",
        "reverse",
    }
)
TRANSLATE_UNSUPPORTED = frozenset({"conceptMap", "dependency"})


@dataclass(frozen=True, slots=True)
class ValueSetChoice:
    url: str | None = None
    value_set_id: str | None = None
    value_set: Json | None = None


def versioned(op: str, url: str | None, version: str | None, version_name: str) -> str | None:
    """``url|version``; a version without a url, or two different versions, is a 400."""
    if version is None:
        return url
    if url is None:
        raise BadRequest(f"{op}: {version_name} needs a url")
    base, bar, inline = url.partition("|")
    agreed(op, version_name, version, inline if bar else None)
    return f"{base}|{version}"


def value_set_choice(given: OperationInput, instance_id: str | None) -> ValueSetChoice:
    op = given.operation
    url = versioned(op, given.string("url"), given.string("valueSetVersion"), "valueSetVersion")
    inline = given.resource("valueSet", "ValueSet")
    chosen = [x for x in (url, inline, instance_id) if x is not None]
    if len(chosen) > 1:
        raise BadRequest(f"{op}: give one of url, valueSet or the instance id, not several")
    if not chosen:
        raise BadRequest(f"{op}: url or valueSet is required")
    return ValueSetChoice(url, instance_id, inline)


def expand_request(given: OperationInput, instance_id: str | None = None) -> ExpandRequest:
    choice = value_set_choice(given, instance_id)
    text = given.string("filter")
    return ExpandRequest(
        value_set_url=choice.url,
        value_set_id=choice.value_set_id,
        value_set=choice.value_set,
        filter=text,
        offset=given.integer("offset") or 0,
        count=given.integer("count"),
        active_only=bool(given.boolean("activeOnly")),
        include_designations=bool(given.boolean("includeDesignations")),
        display_language=given.string("displayLanguage"),
    )


def value_set_validate_request(
    given: OperationInput, instance_id: str | None = None
) -> ValidateCodeRequest:
    op = given.operation
    choice = value_set_choice(given, instance_id)
    codings = codings_asked(op, given, given.string("system"))
    version = given.string("systemVersion")
    if version is not None:
        codings = tuple(
            Coding(c.system, c.code, c.display, agreed(op, "systemVersion", version, c.version))
            for c in codings
        )
    return ValidateCodeRequest(
        codings,
        value_set_url=choice.url,
        value_set_id=choice.value_set_id,
        value_set=choice.value_set,
        display_language=given.string("displayLanguage"),
    )


def translate_requests(
    given: OperationInput, instance_id: str | None = None
) -> tuple[TranslateRequest, ...]:
    """One request per coding asked about (a CodeableConcept asks for each of its codings)."""
    op = given.operation
    url = versioned(op, given.string("url"), given.string("conceptMapVersion"), "conceptMapVersion")
    if url is not None and instance_id is not None:
        raise BadRequest(f"{op}: give url or the instance id, not both")
    code, coding = given.string("code"), given.coding("coding")
    concept = given.codeable_concept("codeableConcept")
    if len([f for f in (code, coding, concept) if f is not None]) != 1:
        raise BadRequest(f"{op}: exactly one of code, coding or codeableConcept is required")
    system, version = given.string("system"), given.string("version")
    if code is not None:
        if system is None:
            raise BadRequest(f"{op}: code needs a system")
        codings: tuple[Coding, ...] = (Coding(system, code, version=version),)
    else:
        codings = concept if concept is not None else (coding,) if coding is not None else ()
        for c in codings:
            agreed(op, "system", system, c.system)
    return tuple(
        TranslateRequest(
            c.system,
            c.code,
            agreed(op, "version", version, c.version),
            concept_map_url=url,
            concept_map_id=instance_id,
            source=given.string("source"),
            target=given.string("target"),
            target_system=given.string("targetsystem"),
            reverse=bool(given.boolean("reverse")),
        )
        for c in codings
    )
