"""The terminology operations' answers as FHIR R4 JSON: ``Parameters`` (``$lookup``,
``$validate-code``, ``$subsumes``, ``$translate``) and an expanded ``ValueSet``
(``$expand``), in the shapes of the R4 OperationDefinitions' out parameters."""

from __future__ import annotations

from typing import Any

from polyfhir_core.contracts.terminology import (
    Coding,
    ConceptProperty,
    Designation,
    ExpandRequest,
    Expansion,
    ExpansionEntry,
    LookupResult,
    Subsumption,
    TranslateResult,
    ValidateCodeResult,
)

Json = dict[str, Any]


def parameters(*parameter: Json) -> Json:
    return {"resourceType": "Parameters", "parameter": list(parameter)}


def _strings(*named: tuple[str, str | None]) -> list[Json]:
    """A ``valueString`` parameter for each name that has a value."""
    return [{"name": name, "valueString": value} for name, value in named if value is not None]


def coding_json(coding: Coding) -> Json:
    out: Json = {"system": coding.system, "code": coding.code}
    if coding.version is not None:
        out["version"] = coding.version
    if coding.display is not None:
        out["display"] = coding.display
    return out


def _designation_parts(d: Designation) -> list[Json]:
    parts: list[Json] = []
    if d.language is not None:
        parts.append({"name": "language", "valueCode": d.language})
    if d.use is not None:
        parts.append({"name": "use", "valueCoding": coding_json(d.use)})
    parts.append({"name": "value", "valueString": d.value})
    return parts


def _property_parts(p: ConceptProperty) -> list[Json]:
    return [{"name": "code", "valueCode": p.code}, {"name": "value", **p.value}]


def lookup_parameters(result: LookupResult) -> Json:
    out = _strings(("name", result.name), ("version", result.version), ("display", result.display))
    out += [{"name": "designation", "part": _designation_parts(d)} for d in result.designations]
    properties = list(result.properties)
    if result.abstract and not any(p.code == "abstract" for p in properties):
        properties.append(ConceptProperty("abstract", {"valueBoolean": True}))
    out += [{"name": "property", "part": _property_parts(p)} for p in properties]
    return parameters(*out)


def validate_code_parameters(result: ValidateCodeResult) -> Json:
    outcome = {"name": "result", "valueBoolean": result.result}
    return parameters(outcome, *_strings(("message", result.message), ("display", result.display)))


def subsumes_parameters(outcome: Subsumption) -> Json:
    return parameters({"name": "outcome", "valueCode": outcome.value})


def translate_parameters(results: tuple[TranslateResult, ...]) -> Json:
    """One answer for the codings asked about: ``result`` is true when any matched."""
    messages = "; ".join(r.message for r in results if r.message)
    out: list[Json] = [
        {"name": "result", "valueBoolean": any(r.result for r in results)},
        *_strings(("message", messages or None)),
    ]
    for result in results:
        for match in result.matches:
            part: list[Json] = [{"name": "equivalence", "valueCode": match.equivalence}]
            if match.concept is not None:
                part.append({"name": "concept", "valueCoding": coding_json(match.concept)})
            if match.source is not None:
                part.append({"name": "source", "valueUri": match.source})
            out.append({"name": "match", "part": part})
    return parameters(*out)


def _entry_json(entry: ExpansionEntry) -> Json:
    out: Json = {"system": entry.system}
    if entry.version is not None:
        out["version"] = entry.version
    out["code"] = entry.code
    if entry.display is not None:
        out["display"] = entry.display
    if entry.abstract:
        out["abstract"] = True
    if entry.inactive:
        out["inactive"] = True
    if entry.designations:
        out["designation"] = [_designation_json(d) for d in entry.designations]
    return out


def _designation_json(d: Designation) -> Json:
    out: Json = {}
    if d.language is not None:
        out["language"] = d.language
    if d.use is not None:
        out["use"] = coding_json(d.use)
    out["value"] = d.value
    return out


def _request_parameters(request: ExpandRequest) -> list[Json]:
    """The parameters that controlled the expansion, as asked (``expansion.parameter``)."""
    asked: list[tuple[str, Json]] = [
        ("filter", {"valueString": request.filter} if request.filter else {}),
        ("offset", {"valueInteger": request.offset} if request.offset else {}),
        ("count", {"valueInteger": request.count} if request.count is not None else {}),
        ("activeOnly", {"valueBoolean": True} if request.active_only else {}),
        ("includeDesignations", {"valueBoolean": True} if request.include_designations else {}),
        (
            "displayLanguage",
            {"valueCode": request.display_language} if request.display_language else {},
        ),
    ]
    return [{"name": name, **value} for name, value in asked if value]


def expanded_value_set(expansion: Expansion, request: ExpandRequest) -> Json:
    """The expanded ``ValueSet``: ``id`` at instance level (the id the request named)."""
    given = [{"name": p.code, **p.value} for p in expansion.parameters]
    named = {p["name"] for p in given}
    controls = [p for p in _request_parameters(request) if p["name"] not in named]
    body: Json = {"resourceType": "ValueSet"}
    if request.value_set_id is not None:
        body["id"] = request.value_set_id
    if expansion.url is not None:
        body["url"] = expansion.url
    if expansion.version is not None:
        body["version"] = expansion.version
    body["status"] = "active"
    body["expansion"] = {
        "identifier": expansion.identifier,
        "timestamp": expansion.timestamp.isoformat(),
        "total": expansion.total,
        "offset": expansion.offset,
        "parameter": [*given, *controls],
        "contains": [_entry_json(e) for e in expansion.contains],
    }
    if not body["expansion"]["parameter"]:
        del body["expansion"]["parameter"]
    return body
