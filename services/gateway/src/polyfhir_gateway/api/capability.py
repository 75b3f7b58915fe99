"""The CapabilityStatement, generated from what this server really implements."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from polyfhir_core.contracts.patch import PatchFormat
from polyfhir_core.indexing.composite_params import component_types
from polyfhir_core.registry import SearchParameterRegistry, SearchParamType
from polyfhir_core.resource_validation import RESOURCE_TYPES
from polyfhir_core.resources import Json
from polyfhir_core.search.capabilities import SUPPORTED_MODIFIERS
from polyfhir_gateway.terminology.operation_table import TERMINOLOGY_OPERATIONS as OPERATION_TABLE

_INTERACTIONS = [
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
]
_COMMON = [
    {"name": "_id", "type": "token", "documentation": "logical id (also :not)"},
    {"name": "_lastUpdated", "type": "date", "documentation": "meta.lastUpdated with prefixes"},
]


def _params(registry: SearchParameterRegistry, rtype: str) -> list[Json]:
    out = list(_COMMON)
    for code, definition in sorted(registry.for_type(rtype).items()):
        if code in ("_id", "_lastUpdated"):
            continue
        full_text = code in ("_text", "_content")
        composite = component_types(definition, registry) is not None
        if definition.type not in SUPPORTED_MODIFIERS and not full_text and not composite:
            continue  # special parameters and composites with unsupported components
        param: Json = {"name": code, "type": definition.type.value}
        if definition.url:
            param["definition"] = definition.url
        modifiers = sorted(SUPPORTED_MODIFIERS.get(definition.type, frozenset()))
        if full_text:
            modifiers = ["text-advanced"]
        elif definition.type == SearchParamType.REFERENCE:
            modifiers.append("[type]")
        param["documentation"] = "modifiers: " + ", ".join(f":{m}" for m in modifiers)
        if composite:
            param["documentation"] = "components separated by $ (no modifiers)"
        out.append(param)
    return out


BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
_BULK_OPERATIONS = {  # the Bulk Data Access IG v2.0.0's OperationDefinitions, by level
    None: {"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/export"},
    "Patient": {
        "name": "export",
        "definition": f"{BULK_DATA}/OperationDefinition/patient-export",
    },
    "Group": {"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/group-export"},
}


_EVERYTHING = {
    "name": "everything",
    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
}
_TYPE_OPERATIONS: dict[str, list[Json]] = {  # $import: the IG publishes no OperationDefinition
    "Patient": [_BULK_OPERATIONS["Patient"], _EVERYTHING],
    "Group": [_BULK_OPERATIONS["Group"]],
}


def _terminology_operations() -> dict[str, list[Json]]:
    """Per type, the operations of the terminology table (the routes' own declarations)."""
    listed: dict[str, list[Json]] = {}
    for operation in OPERATION_TABLE:
        entry = {"name": operation.name, "definition": operation.definition}
        listed.setdefault(operation.resource_type, []).append(entry)
    return listed


TERMINOLOGY_OPERATIONS = _terminology_operations()  # listed when a terminology index is wired


def _with_operations(resource: Json, terminology: bool) -> Json:
    operations = [
        *_TYPE_OPERATIONS.get(resource["type"], []),
        *(TERMINOLOGY_OPERATIONS.get(resource["type"], []) if terminology else []),
    ]
    return {**resource, "operation": operations} if operations else resource


def _reference_params(
    registry: SearchParameterRegistry,
) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Per source type: its reference parameters and the types each may point to."""
    return {
        rtype: [
            (code, definition.targets or tuple(RESOURCE_TYPES))
            for code, definition in sorted(registry.for_type(rtype).items())
            if definition.type == SearchParamType.REFERENCE
        ]
        for rtype in sorted(RESOURCE_TYPES)
    }


def _includes(references: dict[str, list[tuple[str, tuple[str, ...]]]]) -> dict[str, Json]:
    """``searchInclude``/``searchRevInclude`` per type: ``*``, ``Type:*`` and each parameter."""
    revincludes: dict[str, list[str]] = {rtype: ["*"] for rtype in references}
    for source, params in references.items():
        for code, targets in params:
            for target in targets:
                if target in revincludes:
                    revincludes[target].append(f"{source}:{code}")
    return {
        rtype: {
            "searchInclude": ["*", f"{rtype}:*", *(f"{rtype}:{code}" for code, _ in params)],
            "searchRevInclude": revincludes[rtype],
        }
        for rtype, params in references.items()
    }


@cache
def capability_statement(base: str, software_version: str, *, terminology: bool = False) -> Json:
    """``terminology``: list the terminology operations (a terminology index is wired)."""
    registry = SearchParameterRegistry.default()
    includes = _includes(_reference_params(registry))
    resources = [
        {
            "type": rtype,
            "interaction": [{"code": code} for code in _INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "full-support",
            "conditionalUpdate": True,
            "conditionalDelete": "single",
            "referencePolicy": ["literal", "logical", "local"],
            **includes[rtype],
            "searchParam": _params(registry, rtype),
        }
        for rtype in sorted(RESOURCE_TYPES)
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "instantiates": [f"{BULK_DATA}/CapabilityStatement/bulk-data"],
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "kind": "instance",
        "software": {"name": "polyfhir", "version": software_version},
        "implementation": {"description": "polyfhir FHIR R4 server", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": [kind.value for kind in PatchFormat],
        "rest": [
            {
                "mode": "server",
                "resource": [_with_operations(r, terminology) for r in resources],
                "interaction": [
                    {"code": "transaction"},
                    {"code": "batch"},
                    {"code": "history-system"},
                    {"code": "search-system"},
                ],
                "searchParam": _COMMON,
                "operation": [_BULK_OPERATIONS[None]],
            }
        ],
    }
