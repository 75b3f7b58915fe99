"""Every request path of the tenant-isolation tests, for a set of :class:`Targets`.

:func:`read_probes` reads, searches (every feature) and calls operations and admin
routes; :func:`write_probes` writes on the targets' ids, conditionally on their
identifiers, and in bundles. The same probes are sent with the real targets by
another tenant and with ghost targets by a twin (``test_tenant_isolation_property``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from isolation_world import JSON, MRN, Targets

JSON_PATCH = {"content-type": "application/json-patch+json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True, slots=True)
class Probe:
    """One request from the prober. ``a_finds``: the data's own tenant finds something
    with it (the positive control that makes a prober's empty answer mean something)."""

    path: str
    method: str
    url: str
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    a_finds: bool = False


def _get(path: str, url: str, *params: tuple[str, str], a_finds: bool = False) -> Probe:
    return Probe(path, "GET", url, params, a_finds=a_finds)


def _reads(t: Targets) -> list[Probe]:
    """Read, vread and history at every level."""
    pid, oid, obs = t.first("Patient"), t.first("Organization"), t.first("Observation")
    enc, prac = t.first("Encounter"), t.first("Practitioner")
    return [
        _get("read", f"/Patient/{pid}", a_finds=True),
        _get("read", f"/Observation/{obs}", a_finds=True),
        _get("read", f"/Organization/{oid}", a_finds=True),
        _get("read", f"/Encounter/{enc}", a_finds=True),
        _get("read", f"/Practitioner/{prac}", a_finds=True),
        _get("vread", f"/Patient/{pid}/_history/1", a_finds=True),
        _get("history-instance", f"/Patient/{pid}/_history", a_finds=True),
        _get("history-type", "/Patient/_history", a_finds=True),
        _get("history-system", "/_history", a_finds=True),
    ]


def _searches(t: Targets) -> list[Probe]:
    """Searches by id, identifier, words, references, full text and terminology."""
    pid = t.first("Patient")
    return [
        _get("search-id", "/Patient", ("_id", pid), a_finds=True),
        _get("search-identifier", "/Patient", ("identifier", f"{MRN}|{t.mrns[0]}"), a_finds=True),
        _get("search-string", "/Patient", ("family", t.family), a_finds=True),
        _get("search-reference", "/Observation", ("subject", f"Patient/{t.subject}"), a_finds=True),
        _get("search-text", "/Patient", ("_text", t.family), a_finds=True),
        _get("search-content", "/Patient", ("_content", t.family), a_finds=True),
        _get("search-token-text", "/Observation", ("code:text", t.family), a_finds=True),
        _get(
            "search-token-below",
            "/Observation",
            ("code:below", f"{t.code_system}|{t.codes[0]}"),
            a_finds=True,
        ),
        _get("search-token-in", "/Observation", ("code:in", t.value_set), a_finds=True),
        _get("search-token", "/Observation", ("code", f"{t.code_system}|{t.codes[-1]}")),
        _get(
            "search-system", "/", ("_type", "Patient,Observation"), ("_count", "50"), a_finds=True
        ),
        _get("search-system-content", "/", ("_content", t.family), a_finds=True),
        Probe(
            "search-post",
            "POST",
            "/Patient/_search",
            (),
            f"family={t.family}".encode(),
            tuple(FORM.items()),
            a_finds=True,
        ),
        _get("search-terminology-resource", "/CodeSystem", ("url", t.code_system), a_finds=True),
        _get("search-terminology-resource", "/ValueSet", ("url", t.value_set), a_finds=True),
    ]


def _linked_searches(t: Targets) -> list[Probe]:
    """Chains, ``_has``, includes and compartments: the paths that cross references."""
    pid = t.first("Patient")
    return [
        _get("search-chain", "/Observation", ("subject:Patient.family", t.family), a_finds=True),
        _get("search-chain", "/Encounter", ("service-provider.name", t.family), a_finds=True),
        _get(
            "search-chain-2", "/Observation", ("subject.organization.name", t.family), a_finds=True
        ),
        _get(
            "search-has",
            "/Patient",
            ("_has:Observation:subject:code", f"{t.code_system}|{t.codes[0]}"),
        ),
        _get("search-has", "/Patient", ("_has:Encounter:subject:status", "finished"), a_finds=True),
        _get("search-include", "/Observation", ("_include", "Observation:subject"), a_finds=True),
        _get("search-include", "/Patient", ("_include", "Patient:organization"), a_finds=True),
        _get(
            "search-include-iterate",
            "/Observation",
            ("_include", "Observation:subject"),
            ("_include:iterate", "Patient:general-practitioner"),
        ),
        _get(
            "search-revinclude",
            "/Patient",
            ("_id", t.subject),
            ("_revinclude", "Observation:subject"),
            a_finds=True,
        ),
        _get(
            "search-revinclude",
            "/Organization",
            ("_revinclude", "Patient:organization"),
            a_finds=True,
        ),
        _get("search-compartment", f"/Patient/{t.subject}/Observation", a_finds=True),
        _get("search-compartment", f"/Patient/{pid}/Encounter"),
    ]


def _operations(t: Targets) -> list[Probe]:
    """``$everything``, terminology operations and admin routes."""
    pid = t.first("Patient")
    return [
        _get("everything", f"/Patient/{pid}/$everything", a_finds=True),
        _get("expand", "/ValueSet/$expand", ("url", t.value_set)),
        _get("lookup", "/CodeSystem/$lookup", ("system", t.code_system), ("code", t.codes[0])),
        _get(
            "validate-code",
            "/ValueSet/$validate-code",
            ("url", t.value_set),
            ("system", t.code_system),
            ("code", t.codes[0]),
        ),
        _get("admin-explain", "/admin/explain/Observation", ("subject:Patient.family", t.family)),
        _get("admin-jobs", "/admin/jobs"),
    ]


def read_probes(t: Targets) -> list[Probe]:
    """Every path that reads: the data's own tenant finds something with the ``a_finds`` ones."""
    return [*_reads(t), *_searches(t), *_linked_searches(t), *_operations(t)]


def _bundle(kind: str, entries: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"resourceType": "Bundle", "type": kind, "entry": entries})


def write_probes(t: Targets) -> list[Probe]:
    """Conditional writes matching the data, writes on its ids, and bundles touching them."""
    pid, obs, enc = t.first("Patient"), t.first("Observation"), t.first("Encounter")
    mrn = f"{MRN}|{t.mrns[0]}"
    mine = {"resourceType": "Patient", "identifier": [{"system": MRN, "value": t.mrns[0]}]}
    patch = orjson.dumps([{"op": "replace", "path": "/active", "value": False}])
    entries: list[dict[str, Any]] = [
        {"request": {"method": "GET", "url": f"Patient/{pid}"}},
        {"request": {"method": "GET", "url": f"Observation?subject=Patient/{pid}"}},
        {
            "resource": {
                "resourceType": "Observation",
                "id": obs,
                "status": "final",
                "code": {"text": "b"},
            },
            "request": {"method": "PUT", "url": f"Observation/{obs}"},
        },
        {"request": {"method": "DELETE", "url": f"Encounter/{enc}"}},
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "b"},
                "subject": {"reference": f"Patient?identifier={mrn}"},
            },
            "request": {"method": "POST", "url": "Observation"},
        },
    ]
    transaction_entries = [e for e in entries if e["request"]["method"] != "GET"]
    cond_ref = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "b"},
        "subject": {"reference": f"Patient/{pid}"},
    }
    return [
        Probe("patch", "PATCH", f"/Patient/{pid}", (), patch, tuple(JSON_PATCH.items())),
        Probe("batch", "POST", "/", (), _bundle("batch", entries), tuple(JSON.items())),
        Probe(
            "transaction",
            "POST",
            "/",
            (),
            _bundle("transaction", transaction_entries),
            tuple(JSON.items()),
        ),
        Probe(
            "create-referencing",
            "POST",
            "/Observation",
            (),
            orjson.dumps(cond_ref),
            tuple(JSON.items()),
        ),
        Probe(
            "conditional-create",
            "POST",
            "/Patient",
            (),
            orjson.dumps(mine),
            (*JSON.items(), ("if-none-exist", f"identifier={mrn}")),
        ),
        Probe(
            "conditional-update",
            "PUT",
            "/Patient",
            (("identifier", mrn),),
            orjson.dumps(mine),
            tuple(JSON.items()),
        ),
        Probe("conditional-delete", "DELETE", "/Patient", (("identifier", mrn),)),
        Probe(
            "put-on-id",
            "PUT",
            f"/Patient/{pid}",
            (),
            orjson.dumps({"resourceType": "Patient", "id": pid, "active": True}),
            tuple(JSON.items()),
        ),
        Probe("delete", "DELETE", f"/Observation/{obs}"),
        Probe("delete", "DELETE", f"/Patient/{pid}"),
        # after the writes: the prober's own data under the same names, nothing of the other's
        _get(
            "search-include-after-writes",
            "/Observation",
            ("_include", "Observation:subject"),
            ("_revinclude", "Observation:subject"),
        ),
        _get("search-compartment-after-writes", f"/Patient/{pid}/Observation"),
        _get("history-system-after-writes", "/_history"),
    ]
