"""Linked FHIR data for the tenant-isolation property test.

:func:`worlds` draws (hypothesis, generation only, fixed seed) the shape of a
tenant's data: organizations, practitioners, patients pointing at both,
encounters and observations pointing back at patients (references in both
directions), and a CodeSystem with a hierarchy plus a ValueSet over it.
:class:`Targets` names what a prober may know about that data (ids,
identifiers, searchable words, terminology URLs): the real tenant's, or a
*ghost* set of the same shape that exists nowhere. ``isolation_probes`` turns
targets into every request path; the test sends them from another tenant with
the real targets and from a twin tenant with the ghost ones, and the answers
must be alike (nothing reveals existence).

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


def _people(w: World, t: Targets) -> list[dict[str, Any]]:
    """Organizations, practitioners, and patients pointing at both."""
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
    return out


def _clinical(w: World, t: Targets) -> list[dict[str, Any]]:
    """Encounters and observations pointing back at the patients."""
    out: list[dict[str, Any]] = [
        {
            "resourceType": "Encounter",
            "id": t.ids["Encounter"][i],
            "status": "finished",
            "class": {"code": "AMB"},
            "reasonCode": [{"text": t.secret}],
            "subject": _ref("Patient", t.ids["Patient"][pat]),
            "serviceProvider": _ref("Organization", t.ids["Organization"][org]),
        }
        for i, (pat, org) in enumerate(w.encounters)
    ]
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
            "note": [{"text": t.secret}],
        }
        if pract is not None:
            obs["performer"] = [_ref("Practitioner", t.ids["Practitioner"][pract])]
        if enc is not None:
            obs["encounter"] = _ref("Encounter", t.ids["Encounter"][enc])
        out.append(obs)
    return out


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
        for r in [*_people(w, t), *_clinical(w, t), *_terminology(t)]
    ]
    return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})
