"""The SMART scope model (pure): parsing, what each letter allows, compartments."""

from __future__ import annotations

import pytest

from polyfhir_core import wire
from polyfhir_core.smart_scopes import parse_clinical_scope, permissions_from_scopes, split_scopes
from polyfhir_core.tenancy import Operation, TenantContext


@pytest.mark.parametrize(
    ("scope", "letters"),
    [
        ("patient/Observation.rs", "rs"),
        ("user/*.cruds", "cruds"),
        ("system/Patient.read", "rs"),
        ("system/Patient.write", "cud"),
        ("user/Encounter.*", "cruds"),
        ("patient/Observation.c", "c"),
    ],
)
def test_clinical_scopes_parse(scope: str, letters: str) -> None:
    parsed = parse_clinical_scope(scope)
    assert parsed is not None
    assert parsed.letters == letters


@pytest.mark.parametrize(
    "scope",
    [
        "patient/Observation.",  # no permissions
        "patient/Observation.sr",  # out of order
        "patient/Observation.rr",
        "patient/Observation.rs?category=laboratory",  # granular: not understood
        "openid",
        "launch/patient",
        "admin/Patient.rs",
        "user/observation.rs",  # not a type
        "system/admin",
    ],
)
def test_other_scopes_grant_nothing(scope: str) -> None:
    assert parse_clinical_scope(scope) is None
    permissions = permissions_from_scopes([scope], patient="p1", admin_scope="polyfhir/admin")
    assert not any(permissions.allows(op, "Observation") for op in Operation)


def test_letters_map_to_interactions() -> None:
    p = permissions_from_scopes(["user/Observation.rs", "user/Patient.cud"], None)
    assert p.allows(Operation.READ, "Observation")
    assert p.allows(Operation.VREAD, "Observation")
    assert p.allows(Operation.HISTORY_INSTANCE, "Observation")
    assert p.allows(Operation.SEARCH, "Observation")
    assert p.allows(Operation.HISTORY, "Observation")
    assert not p.allows(Operation.CREATE, "Observation")
    assert p.allows(Operation.PATCH, "Patient")
    assert not p.allows(Operation.READ, "Patient")
    assert not p.allows(Operation.SEARCH, None)  # system level needs a * scope
    assert not p.allows(Operation.REINDEX)


def test_patient_scopes_need_the_patient_context_and_confine() -> None:
    assert permissions_from_scopes(["patient/*.rs"], None).grants == ()
    p = permissions_from_scopes(["patient/*.rs", "user/Practitioner.rs"], "p1")
    assert p.confinement(Operation.READ, "Observation") == "Patient/p1"
    assert p.confinement(Operation.READ, "Patient") == "Patient/p1"
    assert p.confinement(Operation.READ, "Medication") is None  # not in the compartment
    assert p.confinement(Operation.READ, "Practitioner") is None  # user/ grant covers it
    both = permissions_from_scopes(["patient/Observation.rs", "user/Observation.r"], "p1")
    assert both.confinement(Operation.READ, "Observation") is None  # user/ wins for r
    assert both.confinement(Operation.SEARCH, "Observation") == "Patient/p1"


def test_admin_scope_is_full_access() -> None:
    assert permissions_from_scopes(["system/admin"], None).allows(Operation.REINDEX)
    assert permissions_from_scopes(["ops"], None, admin_scope="ops").grants is None


def test_scope_claim_forms() -> None:
    assert split_scopes("a b  a") == ("a", "b")
    assert split_scopes(["a b", "c"]) == ("a", "b", "c")


def test_permissions_round_trip_the_internal_wire() -> None:
    p = permissions_from_scopes(["patient/Observation.rs", "system/*.cud"], "p1")
    ctx = TenantContext.of("acme/research", p)
    assert wire.loads(TenantContext, wire.dumps(TenantContext, ctx)) == ctx
