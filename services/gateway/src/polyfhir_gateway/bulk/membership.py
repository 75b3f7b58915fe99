"""Who an export is about: the Patient compartment and a Group's members.

A resource is in the compartment of patient P when one of the reference parameters
the R4 Patient CompartmentDefinition names for its type points at ``Patient/P``
(references read from the exported version itself, so the snapshot decides).
A Group's members are read once, from the Group as it stood at the snapshot instant:
``member.entity`` references to Patients, leaving out ``inactive`` members and those
whose ``period`` does not cover the instant. Every read is bound to the job's tenant,
so a member naming another tenant's id finds nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from polyfhir_core.indexing.extract import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.registry.compartments import compartment_params
from polyfhir_core.resources import Json, parse_instant


def patient_refs(resource: Json) -> set[str]:
    """Ids of the patients whose compartment holds ``resource``."""
    rtype = str(resource.get("resourceType"))
    if rtype == "Patient":
        return {str(resource.get("id"))}
    params = compartment_params("Patient", rtype)
    if not params:
        return set()
    values = extract_index_values(resource, SearchParameterRegistry.default())
    wanted = frozenset(params)
    return {
        ref.target_id
        for ref in values.references
        if ref.param in wanted and ref.target_type in ("Patient", None) and ref.target_id
    }


def in_compartment(resource: Json, patients: Collection[str] | None) -> bool:
    """In the compartment of any of ``patients`` (None: of any patient)."""
    refs = patient_refs(resource)
    if patients is None:
        return bool(refs)
    return not refs.isdisjoint(patients)


def _covers(period: Any, instant: datetime) -> bool:
    if not isinstance(period, dict):
        return True
    start, end = period.get("start"), period.get("end")
    if isinstance(start, str) and _instant(start) > instant:
        return False
    return not (isinstance(end, str) and _instant(end) < instant)


def _instant(value: str) -> datetime:
    """A FHIR dateTime (``2020``, ``2020-03``, ``2020-03-01``, or an instant) as UTC."""
    if "T" in value:
        return parse_instant(value)
    padded = value + "-01-01"[len(value) - 4 :] if len(value) < 10 else value
    return parse_instant(f"{padded}T00:00:00Z")


def group_patients(group: Json, instant: datetime) -> list[str]:
    """The ids of the Patients that are members of ``group`` at ``instant``."""
    found: list[str] = []
    for member in group.get("member") or []:
        if not isinstance(member, dict) or member.get("inactive") is True:
            continue
        if not _covers(member.get("period"), instant):
            continue
        reference = (member.get("entity") or {}).get("reference")
        if isinstance(reference, str) and reference.startswith("Patient/"):
            pid = reference.removeprefix("Patient/")
            if pid and "/" not in pid and pid not in found:
                found.append(pid)
    return found
