"""Small hand-written terminology definitions shared by the terminology tests.

``disorders()`` is a CodeSystem with a nested is-a tree, a second parent given
by a ``parent`` property, designations, a retired (inactive) concept and an
abstract (``notSelectable``) root::

    DIS Disorder (abstract)
      INF Infection
        BAC Bacterial infection    (de: Bakterielle Infektion; severity low)
          STREP Streptococcal infection (severity high)
        VIR Viral infection        (severity medium)
          FLU Influenza            (status retired -> inactive)
          COVID Coronavirus disease (also parent VIR by property; designation "COVID-19")
      TUM Tumour                   (severity high)
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]
DISORDERS = "http://example.org/fhir/CodeSystem/disorders"
LAB = "http://example.org/fhir/CodeSystem/lab"


def _severity(value: str) -> Json:
    return {"code": "severity", "valueCode": value}


def disorders(url: str = DISORDERS, **more: Any) -> Json:
    return {
        "resourceType": "CodeSystem",
        "url": url,
        "version": "1",
        "name": "Disorders",
        "status": "active",
        "content": "complete",
        "hierarchyMeaning": "is-a",
        "property": [{"code": "severity", "type": "code"}, {"code": "status", "type": "code"}],
        "concept": [
            {
                "code": "DIS",
                "display": "Disorder",
                "property": [{"code": "notSelectable", "valueBoolean": True}],
                "concept": [
                    {
                        "code": "INF",
                        "display": "Infection",
                        "definition": "Invasion by pathogens",
                        "concept": [
                            {
                                "code": "BAC",
                                "display": "Bacterial infection",
                                "designation": [
                                    {"language": "de", "value": "Bakterielle Infektion"}
                                ],
                                "property": [_severity("low")],
                                "concept": [
                                    {
                                        "code": "STREP",
                                        "display": "Streptococcal infection",
                                        "property": [_severity("high")],
                                    }
                                ],
                            },
                            {
                                "code": "VIR",
                                "display": "Viral infection",
                                "property": [_severity("medium")],
                                "concept": [
                                    {
                                        "code": "FLU",
                                        "display": "Influenza",
                                        "property": [{"code": "status", "valueCode": "retired"}],
                                    }
                                ],
                            },
                        ],
                    },
                    {"code": "TUM", "display": "Tumour", "property": [_severity("high")]},
                ],
            },
            {
                "code": "COVID",
                "display": "Coronavirus disease",
                "designation": [{"value": "COVID-19"}],
                "property": [{"code": "parent", "valueCode": "VIR"}],
            },
        ],
        **more,
    }


def lab(url: str = LAB) -> Json:
    return {
        "resourceType": "CodeSystem",
        "url": url,
        "status": "active",
        "content": "complete",
        "concept": [
            {"code": "GLU", "display": "Glucose"},
            {"code": "HB", "display": "Haemoglobin"},
        ],
    }


def value_set(url: str, include: list[Json], exclude: list[Json] | None = None) -> Json:
    compose: Json = {"include": include}
    if exclude:
        compose["exclude"] = exclude
    return {"resourceType": "ValueSet", "url": url, "status": "active", "compose": compose}


def is_a(code: str, system: str = DISORDERS, op: str = "is-a") -> Json:
    return {"system": system, "filter": [{"property": "concept", "op": op, "value": code}]}


def concept_map(url: str, source: str = DISORDERS, target: str = LAB) -> Json:
    return {
        "resourceType": "ConceptMap",
        "url": url,
        "status": "active",
        "sourceCanonical": "http://example.org/fhir/ValueSet/disorders",
        "targetCanonical": "http://example.org/fhir/ValueSet/lab",
        "group": [
            {
                "source": source,
                "target": target,
                "element": [
                    {
                        "code": "BAC",
                        "display": "Bacterial infection",
                        "target": [{"code": "GLU", "display": "Glucose", "equivalence": "wider"}],
                    },
                    {"code": "TUM", "target": [{"equivalence": "unmatched"}]},
                    {"code": "VIR"},
                ],
            }
        ],
    }
