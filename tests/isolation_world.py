"""Linked FHIR data for the tenant-isolation property test, and every path to probe it.

:func:`worlds` draws (hypothesis, generation only, fixed seed) the shape of a
tenant's data: organizations, practitioners, patients pointing at both,
encounters and observations pointing back at patients (references in both
directions), and a CodeSystem with a hierarchy plus a ValueSet over it.
:class:`Targets` names what a prober may know about that data (ids,
identifiers, searchable words, terminology URLs): the real tenant's, or a
*ghost* set of the same shape that exists nowhere. :func:`probes` turns targets
into every request path; the test sends them from another tenant with the real
targets and from a twin tenant with the ghost ones, and the answers must be
alike (nothing reveals existence).

Every resource of the data carries ``secret``, a word no prober ever sends: it
must never appear in another tenant's answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

ISOLATION_SEED = 20261207
MRN = "http://hospital.example/mrn"
JSON = {"content-type": "application/fhir+json"}
JSON_PATCH = {"content-type": "application/json-patch+json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}

_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=3, max_size=8)


@dataclass(frozen=True, slots=True)
class World:
    """The shape of one tenant's data (indexes into the lists of each type)."""

    token: str
    organizations: int
    practitioners: int
    patients: tuple[tuple[int, int | None], ...]  # (managing organization, practitioner)
    encounters: tuple[tuple[int, int], ...]  # (patient, service provider)
    observations: tuple[tuple[int, int | None, int, int | None], ...]  # patient, perf, code, enc
    codes: int


@st.composite
def world(draw: st.DrawFn) -> World:
    orgs = draw(st.integers(1, 2))
    practs = draw(st.integers(1, 2))
    n_patients = draw(st.integers(1, 3))
    patients = tuple(
        (draw(st.integers(0, orgs - 1)), draw(st.none() | st.integers(0, practs - 1)))
        for _ in range(n_patients)
    )
    encounters = tuple(
        (draw(st.integers(0, n_patients - 1)), draw(st.integers(0, orgs - 1)))
        for _ in range(draw(st.integers(1, 2)))
    )
    codes = draw(st.integers(2, 4))
    observations = tuple(
        (
            draw(st.integers(0, n_patients - 1)),
            draw(st.none() | st.integers(0, practs - 1)),
            draw(st.integers(0, codes - 1)),
            draw(st.none() | st.integers(0, len(encounters) - 1)),
        )
        for _ in range(draw(st.integers(1, 4)))
    )
    return World(draw(_token), orgs, practs, patients, encounters, observations, codes)


def worlds(count: int) -> list[World]:
    """``count`` worlds, the same on every run (a failure names a world to replay)."""
    drawn: list[World] = []

    @seed(ISOLATION_SEED)
    @settings(
        max_examples=count,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(world())
    def collect(w: World) -> None:
        drawn.append(w)

    collect()
    return drawn[:count]


@dataclass(frozen=True, slots=True)
class Targets:
    """What a prober knows: ids per type, identifiers, words and terminology URLs."""

    token: str
    ids: dict[str, list[str]]
    family: str
    mrns: list[str]
    code_system: str
    value_set: str
    codes: list[str]
    subject: str  # a patient some observation points at
    secret: str = field(default="")

    def first(self, rtype: str) -> str:
        return self.ids[rtype][0]


def targets(w: World, token: str | None = None) -> Targets:
    """The world's names (``token`` given: a ghost set of the same shape)."""
    t = token or w.token
    counts = {
        "Organization": w.organizations,
        "Practitioner": w.practitioners,
        "Patient": len(w.patients),
        "Encounter": len(w.encounters),
        "Observation": len(w.observations),
    }
    ids = {rtype: [f"{rtype[:3].lower()}-{t}-{i}" for i in range(n)] for rtype, n in counts.items()}
    return Targets(
        token=t,
        ids=ids,
        family=f"Fam{t}",
        mrns=[f"mrn-{t}-{i}" for i in range(len(w.patients))],
        code_system=f"http://example.org/iso/{t}/cs",
        value_set=f"http://example.org/iso/{t}/vs",
        codes=[f"c{t}{i}" for i in range(w.codes)],
        subject=ids["Patient"][w.observations[0][0]],
        secret=f"Secret{uuid.uuid4().hex}",
    )


def _ref(rtype: str, rid: str) -> dict[str, str]:
    return {"reference": f"{rtype}/{rid}"}


def _resources(w: World, t: Targets) -> list[dict[str, Any]]:
    secret_note = [{"text": t.secret}]
    out: list[dict[str, Any]] = [
        {"resourceType": "Organization", "id": oid, "name": f"{t.family} {t.secret}"}
        for oid in t.ids["Organization"]
    ]
    out += [
        {
            "resourceType": "Practitioner",
            "id": pid,
            "name": [{"family": t.family, "given": [t.secret]}],
        }
        for pid in t.ids["Practitioner"]
    ]
    for i, (org, pract) in enumerate(w.patients):
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "id": t.ids["Patient"][i],
            "text": {"status": "generated", "div": f"<div>{t.family} {t.secret}</div>"},
            "identifier": [{"system": MRN, "value": t.mrns[i]}],
            "name": [{"family": t.family, "given": [t.secret]}],
            "managingOrganization": _ref("Organization", t.ids["Organization"][org]),
        }
        if pract is not None:
            patient["generalPractitioner"] = [_ref("Practitioner", t.ids["Practitioner"][pract])]
        out.append(patient)
    for i, (pat, org) in enumerate(w.encounters):
        out.append(
            {
                "resourceType": "Encounter",
                "id": t.ids["Encounter"][i],
                "status": "finished",
                "class": {"code": "AMB"},
                "reasonCode": [{"text": t.secret}],
                "subject": _ref("Patient", t.ids["Patient"][pat]),
                "serviceProvider": _ref("Organization", t.ids["Organization"][org]),
            }
        )
    for i, (pat, pract, code, enc) in enumerate(w.observations):
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": t.ids["Observation"][i],
            "status": "final",
            "code": {
                "coding": [{"system": t.code_system, "code": t.codes[code]}],
                "text": t.family,
            },
            "subject": _ref("Patient", t.ids["Patient"][pat]),
            "note": secret_note,
        }
        if pract is not None:
            obs["performer"] = [_ref("Practitioner", t.ids["Practitioner"][pract])]
        if enc is not None:
            obs["encounter"] = _ref("Encounter", t.ids["Encounter"][enc])
        out.append(obs)
    return [*out, *_terminology(t)]


def _terminology(t: Targets) -> list[dict[str, Any]]:
    root, *children = t.codes
    code_system = {
        "resourceType": "CodeSystem",
        "id": f"cs-{t.token}",
        "url": t.code_system,
        "status": "active",
        "content": "complete",
        "hierarchyMeaning": "is-a",
        "description": t.secret,
        "concept": [
            {
                "code": root,
                "display": t.family,
                "concept": [{"code": c, "display": t.secret} for c in children],
            }
        ],
    }
    value_set = {
        "resourceType": "ValueSet",
        "id": f"vs-{t.token}",
        "url": t.value_set,
        "status": "active",
        "description": t.secret,
        "compose": {"include": [{"system": t.code_system}]},
    }
    return [code_system, value_set]


def transaction(w: World, t: Targets) -> bytes:
    """One transaction bundle creating the whole world under its ids."""
    entries = [
        {
            "fullUrl": f"{r['resourceType']}/{r['id']}",
            "resource": r,
            "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
        }
        for r in _resources(w, t)
    ]
    return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})


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


def read_probes(t: Targets) -> list[Probe]:
    """Reads, history, searches of every feature, compartments, operations, admin."""
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
        _get("search-id", "/Patient", ("_id", pid), a_finds=True),
        _get("search-identifier", "/Patient", ("identifier", f"{MRN}|{t.mrns[0]}"), a_finds=True),
        _get("search-string", "/Patient", ("family", t.family), a_finds=True),
        _get("search-reference", "/Observation", ("subject", f"Patient/{t.subject}"), a_finds=True),
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
