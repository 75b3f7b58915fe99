"""Apply a PATCH document to a resource's current content (pure).

JSON Patch (RFC 6902) through ``jsonpatch``; JSON Merge Patch (RFC 7386) here;
FHIRPath Patch (fhirpatch.html) in ``fhirpath_patch``. A patch that cannot be
applied is 422 Unprocessable; the caller validates the result like any write.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from polyfhir_core.contracts.patch import Patch, PatchFormat
from polyfhir_core.errors import Unprocessable
from polyfhir_core.resources import Json
from polyfhir_primary.domain.fhirpath_patch import apply_fhirpath_patch


def apply_patch(patch: Patch, content: Json) -> Any:
    """The patched copy of ``content`` (``content`` itself is left unchanged)."""
    current = copy.deepcopy(content)
    if patch.format is PatchFormat.MERGE_PATCH:
        return merge_patch(current, patch.body)
    if patch.format is PatchFormat.FHIRPATH_PATCH:
        return apply_fhirpath_patch(current, patch.body)
    try:
        return jsonpatch.apply_patch(current, patch.body)
    except (
        jsonpatch.JsonPatchException,
        jsonpatch.JsonPointerException,
        TypeError,
        ValueError,
    ) as exc:
        raise Unprocessable(f"JSON Patch could not be applied: {exc}") from exc


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge member by member, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged
