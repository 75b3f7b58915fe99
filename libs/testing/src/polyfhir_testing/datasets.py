"""Synthetic patients as FHIR transaction bundles (``carebundle``), ready to load.

Like Synthea exports, the bundles POST everything, including practitioners
that many patients share. Loading them as-is would create one duplicate per
patient, so :func:`patient_bundles` turns each Practitioner/Organization/
Location entry into a conditional create on its identifier (``ifNoneExist``)
and, to model sharing, draws those identifiers from a pool of
``shared_practitioners``: patient *i* is treated by practitioner *i mod pool*.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

SHARED_TYPES = ("Practitioner", "Organization", "Location")
POOL_SYSTEM = "urn:polyfhir:benchmark:practitioner"


def _share(entry: dict[str, Any], index: int, pool: int) -> None:
    resource = entry["resource"]
    if resource["resourceType"] not in SHARED_TYPES:
        return
    if resource["resourceType"] == "Practitioner" and pool > 0:
        number = index % pool
        resource["identifier"] = [{"system": POOL_SYSTEM, "value": f"p{number}"}]
        resource["name"] = [{"family": f"Shared{number}", "given": ["Pat"]}]
    identifiers = resource.get("identifier") or []
    if identifiers:
        first = identifiers[0]
        entry["request"]["ifNoneExist"] = f"identifier={first['system']}|{first['value']}"


def patient_bundle(index: int, seed: int = 7, shared_practitioners: int = 20) -> dict[str, Any]:
    """One patient's transaction bundle (~50 entries), deterministic in (seed, index)."""
    from carebundle import generate_bundle
    from carebundle.core.bundle import to_json

    sex = "F" if index % 2 == 0 else "M"
    bundle: dict[str, Any] = orjson.loads(to_json(generate_bundle(seed=seed, index=index, sex=sex)))
    for entry in bundle["entry"]:
        _share(entry, index, shared_practitioners)
    return bundle


def patient_bundles(
    count: int, seed: int = 7, shared_practitioners: int = 20, start: int = 0
) -> Iterator[dict[str, Any]]:
    for index in range(start, start + count):
        yield patient_bundle(index, seed, shared_practitioners)
