"""R4 resource validation.

Structure, cardinality, datatypes and unknown elements are checked by
``fhirkit`` (fhirkit-rs: every R4 4.0.1 resource and datatype, generated from
the specification; it reports every problem with its path). ``fhir.resources``
was ruled out because it models R4B/R5 only. On top of that we check what
fhirkit leaves to the server: the logical id format and the resource type the
interaction expects.
"""

from __future__ import annotations

from typing import Any

import fhirkit

from polyfhir_core.errors import InvalidResource, Issue
from polyfhir_core.input_limits import check_resource_strings
from polyfhir_core.resources import ID_PATTERN

RESOURCE_TYPES: frozenset[str] = frozenset(fhirkit.RESOURCE_TYPES)


def is_resource_type(name: str) -> bool:
    return name in RESOURCE_TYPES


def validate_resource(resource: Any, expected_type: str | None = None) -> dict[str, Any]:
    """Return the resource if it is valid R4, else raise InvalidResource listing every issue."""
    if not isinstance(resource, dict):
        raise InvalidResource("a resource must be a JSON object")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        raise InvalidResource("resource has no resourceType")
    if rtype not in RESOURCE_TYPES:
        raise InvalidResource(f"unknown resourceType {rtype!r} (not an R4 resource)")
    if expected_type is not None and rtype != expected_type:
        raise InvalidResource(
            f"resourceType {rtype!r} does not match the type in the URL {expected_type!r}"
        )
    check_resource_strings(resource, rtype)
    rid = resource.get("id")
    issues: list[Issue] = []
    if rid is not None and (not isinstance(rid, str) or not ID_PATTERN.match(rid)):
        issues.append(Issue("value", f"invalid id {rid!r}", expression=(f"{rtype}.id",)))
    issues.extend(
        Issue("structure", f"{found.path}: {found.message}", expression=(found.path,))
        for found in fhirkit.validate(resource)
        if found.severity == "error"
    )
    if issues:
        summary = issues[0].diagnostics
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        raise InvalidResource(f"invalid {rtype}: {summary}{more}", issues)
    return resource
