"""A tenant's own SearchParameter resources: checked before they are stored."""

from __future__ import annotations

from typing import Any

from polyfhir_core.errors import InvalidResource
from polyfhir_core.indexing.paths import compile_expression
from polyfhir_core.registry import SearchParamDef, SearchParamType, definition_from_json
from polyfhir_core.resource_validation import is_resource_type

INDEXABLE = frozenset(SearchParamType) - {SearchParamType.COMPOSITE, SearchParamType.SPECIAL}


def custom_definition(resource: dict[str, Any]) -> SearchParamDef:
    """The definition a SearchParameter resource adds, or InvalidResource saying why not."""
    definition = definition_from_json(resource, custom=True)
    for base in definition.base:
        if base not in ("Resource", "DomainResource") and not is_resource_type(base):
            raise InvalidResource(f"SearchParameter.base: unknown resource type {base!r}")
    if definition.type not in INDEXABLE:
        raise InvalidResource(
            f"SearchParameter.type {definition.type.value!r}: custom parameters of this type "
            "are not supported (use string, token, date, number, quantity, reference or uri)"
        )
    if not definition.expression:
        raise InvalidResource("SearchParameter.expression is required for a custom parameter")
    try:
        # fhirpathpy parses lazily: evaluating on an empty resource surfaces errors.
        evaluate = compile_expression(definition.expression)
        for base in definition.base:
            evaluate({"resourceType": base})
    except Exception as exc:  # fhirpathpy raises several kinds of parse errors
        raise InvalidResource(
            f"SearchParameter.expression {definition.expression!r} is not valid FHIRPath: {exc}"
        ) from exc
    return definition


def is_active(resource: dict[str, Any]) -> bool:
    return resource.get("status") in ("active", "draft")
