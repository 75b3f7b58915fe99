"""A PATCH body as the gateway received it: which of the three formats, and its JSON.

http.html#patch allows JSON Patch, XML Patch and FHIRPath Patch; clients such as
fhirpy also send JSON Merge Patch (RFC 7386). This server applies JSON Patch,
JSON Merge Patch and FHIRPath Patch (``polyfhir_primary.domain.patching``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from polyfhir_core.errors import BadRequest


class PatchFormat(StrEnum):
    """The media type a patch body arrives in."""

    JSON_PATCH = "application/json-patch+json"
    MERGE_PATCH = "application/merge-patch+json"
    FHIRPATH_PATCH = "application/fhir+json"


_FORMATS = {kind.value: kind for kind in PatchFormat}
PLAIN_JSON = "application/json"


def _plain_json_format(body: Any) -> PatchFormat:
    """A body sent as plain ``application/json``: a Parameters resource is FHIRPath Patch,
    any other object JSON Merge Patch (how fhirpy's ``patch`` sends it)."""
    if isinstance(body, dict):
        if body.get("resourceType") == "Parameters":
            return PatchFormat.FHIRPATH_PATCH
        return PatchFormat.MERGE_PATCH
    raise BadRequest(f"send a JSON Patch as {PatchFormat.JSON_PATCH.value}")


@dataclass(frozen=True, slots=True)
class Patch:
    """A patch document whose outer shape fits its format (checked by ``of``)."""

    format: PatchFormat
    body: Any

    @classmethod
    def of(cls, media_type: str, body: Any) -> Patch:
        """The patch for a body sent as ``media_type``, or 400 when its shape is wrong."""
        kind = _plain_json_format(body) if media_type == PLAIN_JSON else _FORMATS.get(media_type)
        if kind is None:
            raise BadRequest(f"{media_type!r} is not a patch format")
        if kind is PatchFormat.JSON_PATCH and not isinstance(body, list):
            raise BadRequest("a JSON Patch is an array of operations")
        if kind is PatchFormat.MERGE_PATCH and not isinstance(body, dict):
            raise BadRequest("a JSON Merge Patch is a JSON object")
        if kind is PatchFormat.FHIRPATH_PATCH and (
            not isinstance(body, dict) or body.get("resourceType") != "Parameters"
        ):
            raise BadRequest("a FHIRPath Patch is a Parameters resource")
        return cls(kind, body)
