"""An ``$export`` kick-off's parameters (Bulk Data Access IG v2.0.0, export.html).

From GET query parameters or a POST ``Parameters`` resource alike: the kick-off is
read into ``(name, value)`` pairs first. A value the server cannot honour is a 400
OperationOutcome with ``Prefer: handling=strict``; with ``handling=lenient`` (the
default) an unknown type or parameter is left out and named in the job's errors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from polyfhir_core.errors import BadRequest
from polyfhir_core.registry.compartments import compartment_params
from polyfhir_core.resource_validation import RESOURCE_TYPES
from polyfhir_core.resources import ResourceKey, format_instant, parse_instant

OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
KNOWN = frozenset(
    {"_outputFormat", "_since", "_until", "_type", "_typeFilter", "_elements", "patient"}
    | {"includeAssociatedData", "organizeOutputBy", "allowPartialManifests"}
)


class ExportLevel(StrEnum):
    SYSTEM = "system"
    PATIENT = "patient"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What one export job produces (kept as the job's params)."""

    level: ExportLevel
    request: str  # the kick-off URL, echoed in the manifest
    transaction_time: datetime  # when the export began: the snapshot instant
    group_id: str | None = None
    types: list[str] = field(default_factory=list)  # in the order they are exported
    since: datetime | None = None
    until: datetime | None = None
    type_filters: dict[str, list[str]] = field(default_factory=dict)  # type -> queries
    elements: list[str] = field(default_factory=list)
    patients: list[str] | None = None  # patient ids (``patient`` parameter)
    warnings: list[str] = field(default_factory=list)  # lenient: what was left out

    @property
    def as_of(self) -> datetime:
        """The snapshot's bound: versions written later are not exported."""
        if self.until is not None and self.until < self.transaction_time:
            return self.until
        return self.transaction_time

    def params(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("transaction_time", "since", "until"):
            value = getattr(self, name)
            out[name] = format_instant(value) if value is not None else None
        return out

    @classmethod
    def of(cls, params: dict[str, Any]) -> ExportRequest:
        values = dict(params)
        values["level"] = ExportLevel(values["level"])
        for name in ("transaction_time", "since", "until"):
            values[name] = parse_instant(values[name]) if values.get(name) else None
        return cls(**values)


def in_patient_compartment(rtype: str) -> bool:
    return compartment_params("Patient", rtype) is not None


def parameters_pairs(body: Any) -> list[tuple[str, str]]:
    """A POST kick-off's ``Parameters`` as ``(name, value)`` pairs."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("a POST $export takes a Parameters resource")
    pairs: list[tuple[str, str]] = []
    for param in body.get("parameter") or []:
        name = param.get("name") if isinstance(param, dict) else None
        if not isinstance(name, str):
            raise BadRequest("every Parameters.parameter needs a name")
        value = _parameter_value(param)
        if value is None:
            raise BadRequest(f"parameter {name!r} has no value this server understands")
        pairs.append((name, value))
    return pairs


def _parameter_value(param: dict[str, Any]) -> str | None:
    for key, value in param.items():
        if key == "valueReference" and isinstance(value, dict):
            reference = value.get("reference")
            return reference if isinstance(reference, str) else None
        if key.startswith("value") and isinstance(value, str | bool | int):
            return str(value).lower() if isinstance(value, bool) else str(value)
    return None


@dataclass
class _Reader:
    level: ExportLevel
    strict: bool
    warnings: list[str] = field(default_factory=list)

    def reject(self, message: str) -> None:
        if self.strict:
            raise BadRequest(message)
        self.warnings.append(message)

    def types(self, values: list[str]) -> list[str]:
        allowed = _level_types(self.level)
        wanted: list[str] = []
        for value in values:
            for rtype in (t.strip() for t in value.split(",") if t.strip()):
                if rtype not in allowed:
                    self.reject(f"_type {rtype!r} is not a resource type this export can hold")
                elif rtype not in wanted:
                    wanted.append(rtype)
        return wanted

    def type_filters(self, values: list[str], types: list[str]) -> dict[str, list[str]]:
        filters: dict[str, list[str]] = {}
        for value in values:
            rtype, sep, query = value.partition("?")
            if not sep or not query or rtype not in RESOURCE_TYPES:
                raise BadRequest(f"_typeFilter {value!r} is not of the form Type?query")
            if types and rtype not in types:
                self.reject(f"_typeFilter {value!r} names a type outside _type")
                continue
            filters.setdefault(rtype, []).append(query)
        return filters

    def patients(self, values: list[str]) -> list[str] | None:
        if not values:
            return None
        if self.level is ExportLevel.SYSTEM:
            raise BadRequest("the patient parameter applies to Patient and Group exports only")
        ids: list[str] = []
        for value in values:
            for reference in (r.strip() for r in value.split(",") if r.strip()):
                key = ResourceKey.parse(reference)
                if key.resource_type != "Patient":
                    raise BadRequest(f"patient {reference!r} is not a Patient reference")
                ids.append(key.id)
        return ids


def _level_types(level: ExportLevel) -> list[str]:
    if level is ExportLevel.SYSTEM:
        return sorted(RESOURCE_TYPES)
    return sorted(t for t in RESOURCE_TYPES if in_patient_compartment(t))


def _one(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name) or []
    if len(found) > 1:
        raise BadRequest(f"{name} may be given once")
    return found[0] if found else None


def read_export_request(
    pairs: list[tuple[str, str]],
    level: ExportLevel,
    *,
    request: str,
    now: datetime,
    strict: bool,
    group_id: str | None = None,
) -> ExportRequest:
    """The kick-off's parameters checked (see the module docstring)."""
    reader = _Reader(level, strict)
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        if name not in KNOWN:
            reader.reject(f"unknown $export parameter {name!r}")
            continue
        values.setdefault(name, []).append(value)
    fmt = _one(values, "_outputFormat")
    if fmt is not None and fmt not in OUTPUT_FORMATS:
        raise BadRequest(f"_outputFormat {fmt!r}: only {', '.join(sorted(OUTPUT_FORMATS))}")
    if values.get("includeAssociatedData"):
        reader.reject("includeAssociatedData is not supported (no associated data is exported)")
    if values.get("organizeOutputBy"):
        raise BadRequest("organizeOutputBy is not supported: output is organised by type")
    since_text, until_text = _one(values, "_since"), _one(values, "_until")
    since = parse_instant(since_text) if since_text else None
    until = parse_instant(until_text) if until_text else None
    if since is not None and since > now:
        raise BadRequest("_since is in the future")
    if since is not None and until is not None and until <= since:
        raise BadRequest("_until must be after _since")
    types = reader.types(values.get("_type", []))
    if values.get("_type") and not types:
        raise BadRequest("_type names no resource type this export can hold")
    filters = reader.type_filters(values.get("_typeFilter", []), types)
    elements = [e.strip() for v in values.get("_elements", []) for e in v.split(",") if e.strip()]
    return ExportRequest(
        level=level,
        request=request,
        transaction_time=now,
        group_id=group_id,
        types=types or _level_types(level),
        since=since,
        until=until,
        type_filters=filters,
        elements=elements,
        patients=reader.patients(values.get("patient", [])),
        warnings=reader.warnings,
    )
