"""Property: for generated scope sets x interactions (read, vread, history, search with
includes, chains and ``_has``, confined searches, create/update/patch/delete, batch and
transaction entries), the store's access decisions agree with a small reference model
of SMART App Launch v2, written here independently: zero disagreements.

The system under test is the real code path: ``permissions_from_scopes`` (the gateway's
reading of the token), ``TenantPermissions`` (carried to the store), and the primary's
``access`` functions with the real registry and index extraction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from polyfhir_core.errors import Forbidden
from polyfhir_core.indexing.extract import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.resources import Json, StoredResource
from polyfhir_core.search import SearchQuery
from polyfhir_core.smart_scopes import permissions_from_scopes
from polyfhir_core.tenancy import Operation, TenantId, TenantPermissions
from polyfhir_primary.search.plan import Criteria, HasClause, ReferenceClause
from polyfhir_primary.service_layer import access

pytestmark = pytest.mark.unit

ME, OTHER = "p1", "p2"
TYPES = ("Patient", "Observation", "Encounter", "Medication", "Organization")
IN_PATIENT_COMPARTMENT = {"Patient", "Observation", "Encounter"}  # of TYPES
REGISTRY = SearchParameterRegistry.default()
TENANT = TenantId("prop")
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# -- the reference model -------------------------------------------------------------

LETTER = {
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "search": "s",
    "history-type": "s",
    "create": "c",
    "update": "u",
    "patch": "u",
    "delete": "d",
}


def reference_grants(scopes: list[str], patient: str | None) -> list[tuple[str, str, str]]:
    """(context, type, letters) of each scope SMART v2 gives meaning to."""
    out = []
    for scope in scopes:
        m = re.fullmatch(r"(patient|user|system)/(\*|[A-Z][A-Za-z]*)\.([a-z*]+)", scope)
        if m is None:
            continue
        letters = {"read": "rs", "write": "cud", "*": "cruds"}.get(m[3], m[3])
        ordered = "".join(c for c in "cruds" if c in letters)
        if ordered != letters:  # unknown letters, repeats or out of order
            continue
        if m[1] == "patient" and patient is None:
            continue
        out.append((m[1], m[2], letters))
    return out


def ref_allowed(grants: list[tuple[str, str, str]], letter: str, rtype: str) -> bool:
    return any(t in ("*", rtype) and letter in ls for _, t, ls in grants)


def ref_confined(grants: list[tuple[str, str, str]], letter: str, rtype: str) -> bool:
    matching = [c for c, t, ls in grants if t in ("*", rtype) and letter in ls]
    return (
        bool(matching)
        and all(c == "patient" for c in matching)
        and (rtype in IN_PATIENT_COMPARTMENT)
    )


# -- generated interactions --------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    rtype: str
    mine: bool  # in ME's compartment (for compartment types)


@dataclass(frozen=True)
class Interaction:
    kind: str
    resource: Resource
    after: Resource | None = None  # writes: the new content
    chains: tuple[str, ...] = ()
    has: tuple[str, ...] = ()
    includes: tuple[Resource, ...] = ()
    compartment: str | None = None  # search: None | ME | OTHER


resources = st.builds(Resource, st.sampled_from(TYPES), st.booleans())
_contexts = st.sampled_from(["patient", "user", "system"])
_letters = st.sampled_from(["read", "write", "*", "cruds", "rs", "cud", "r", "s", "cu", "d"])
_odd_scopes = st.one_of(
    st.builds(
        lambda c, t, p: f"{c}/{t}.{p}",
        _contexts,
        st.sampled_from([*TYPES, "*"]),
        st.text("cruds", min_size=0, max_size=5),
    ),
    st.sampled_from(
        ["openid", "launch/patient", "patient/Observation.rs?category=lab", "system/admin"]
    ),
)


@st.composite
def scope_sets(draw: st.DrawFn) -> list[str]:
    """Per type (and ``*``, rarely) zero to two scopes, so types overlap, differ in
    letters and mix ``patient/`` with ``user/``; plus a few odd or foreign scopes."""
    scopes: list[str] = []
    for rtype in TYPES:
        for context, letters in draw(st.lists(st.tuples(_contexts, _letters), max_size=2)):
            scopes.append(f"{context}/{rtype}.{letters}")
    if draw(st.integers(0, 4)) == 0:
        scopes.append(f"{draw(_contexts)}/*.{draw(_letters)}")
    scopes += draw(st.lists(_odd_scopes, max_size=2))
    return draw(st.permutations(scopes))


def _interactions() -> st.SearchStrategy[Interaction]:
    simple = st.builds(
        Interaction,
        st.sampled_from(["read", "vread", "history-instance", "history-type", "reindex"]),
        resources,
    )
    search = st.builds(
        Interaction,
        st.just("search"),
        resources,
        chains=st.lists(st.sampled_from(TYPES), max_size=2).map(tuple),
        has=st.lists(st.sampled_from(TYPES), max_size=2).map(tuple),
        includes=st.lists(resources, max_size=3).map(tuple),
        compartment=st.sampled_from([None, ME, OTHER]),
    )
    write = st.builds(
        lambda kind, before, mine_after: Interaction(
            kind, before, Resource(before.rtype, mine_after)
        ),
        st.sampled_from(["create", "update", "patch", "delete"]),
        resources,
        st.booleans(),
    )
    return st.one_of(simple, search, write)


# -- the reference model's verdicts --------------------------------------------------------


def expected(grants: list[tuple[str, str, str]], i: Interaction, admin: bool) -> Any:
    if admin:  # the administration scope: everything in the tenant
        return (200, i.compartment, tuple(range(len(i.includes)))) if i.kind == "search" else 200
    if i.kind == "reindex":
        return 403
    letter = LETTER[i.kind]
    rtype = i.resource.rtype
    if not ref_allowed(grants, letter, rtype):
        return 403
    confined = ref_confined(grants, letter, rtype)
    if i.kind == "search":
        if any(not ref_allowed(grants, "s", t) for t in (*i.chains, *i.has)):
            return 403
        if confined and i.compartment == OTHER:
            return 403
        kept = tuple(
            n
            for n, inc in enumerate(i.includes)
            if ref_allowed(grants, "r", inc.rtype)
            and (inc.mine or not ref_confined(grants, "r", inc.rtype))
        )
        searched = ME if confined else i.compartment  # the compartment actually searched
        return (200, searched, kept)
    if i.kind in ("read", "vread", "history-instance"):
        return 404 if confined and not i.resource.mine else 200
    if i.kind == "history-type":
        return "hidden" if confined and not i.resource.mine else 200
    before = None if i.kind == "create" else i.resource
    after = None if i.kind == "delete" else i.after
    if confined and any(r is not None and not r.mine for r in (before, after)):
        return 403
    return 200


# -- the system under test -----------------------------------------------------------------

OPERATION = {
    "read": Operation.READ,
    "vread": Operation.VREAD,
    "history-instance": Operation.HISTORY_INSTANCE,
    "search": Operation.SEARCH,
    "create": Operation.CREATE,
    "update": Operation.UPDATE,
    "patch": Operation.PATCH,
    "delete": Operation.DELETE,
    "history-type": Operation.HISTORY,
    "reindex": Operation.REINDEX,
}


def stored(resource: Resource, rid: str = "x1") -> StoredResource:
    who = ME if resource.mine else OTHER
    content: Json = {"resourceType": resource.rtype, "id": rid}
    if resource.rtype == "Patient":
        content["id"] = rid = who
    elif resource.rtype in ("Observation", "Encounter"):
        content["subject"] = {"reference": f"Patient/{who}"}
    return StoredResource(TENANT, resource.rtype, rid, 1, NOW, False, content)


def index(content: Json) -> Any:
    return extract_index_values(content, REGISTRY)


def _criteria(i: Interaction) -> Criteria:
    clauses: list[Any] = [
        ReferenceClause("subject", target_types=(t,), chain=Criteria((t,))) for t in i.chains
    ]
    clauses += [HasClause(t, "subject", Criteria((t,))) for t in i.has]
    return Criteria((i.resource.rtype,), tuple(clauses))


def actual(p: TenantPermissions, i: Interaction) -> Any:
    op = OPERATION[i.kind]
    rtype = i.resource.rtype
    try:
        p.require(op, rtype)
        if i.kind == "search":
            compartment = ("Patient", i.compartment) if i.compartment else None
            query = access.confine_search(p, SearchQuery(rtype, compartment=compartment))
            access.require_searchable(p, (rtype,), access.traversed_types(_criteria(i)))
            searched = query.compartment[1] if query.compartment else None
            found = [stored(inc, f"i{n}") for n, inc in enumerate(i.includes)]
            shown = access.only_visible(p, Operation.READ, found, REGISTRY, index)
            return (
                200,
                searched,
                tuple(n for n, s in enumerate(found) if any(s is x for x in shown)),
            )
        if i.kind == "reindex":
            return 200
        if i.kind in ("read", "vread", "history-instance"):
            return 200 if access.visible(p, op, stored(i.resource), REGISTRY, index) else 404
        if i.kind == "history-type":  # versions out of sight are dropped from the page
            return 200 if access.visible(p, op, stored(i.resource), REGISTRY, index) else "hidden"
        if i.kind != "create":
            access.require_write_inside(p, op, stored(i.resource), REGISTRY, index)
        if i.kind != "delete" and i.after is not None:
            access.require_write_inside(p, op, stored(i.after), REGISTRY, index)
        return 200
    except Forbidden:
        return 403


def bundle_verdicts(verdicts: list[Any], transaction: bool) -> list[Any]:
    """A transaction is refused whole when one entry is; a batch answers each."""
    if transaction and any(v in (403, 404) for v in verdicts):
        return [403]
    return verdicts


@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@example(  # a user/ scope lifts the patient/ confinement for what it covers
    scopes=["patient/Observation.rs", "user/Observation.r"],
    patient=ME,
    interactions=[Interaction("read", Resource("Observation", mine=False))],
    transaction=False,
)
@example(
    scopes=["user/Observation.r", "patient/Observation.rs"],
    patient=ME,
    interactions=[Interaction("search", Resource("Observation", mine=False), compartment=OTHER)],
    transaction=True,
)
@example(  # _has into a type the caller may not search
    scopes=["user/Observation.rs"],
    patient=None,
    interactions=[Interaction("search", Resource("Observation", mine=True), has=("Patient",))],
    transaction=False,
)
@given(
    scopes=scope_sets(),
    patient=st.sampled_from([ME, None]),
    interactions=st.lists(_interactions(), min_size=1, max_size=4),
    transaction=st.booleans(),
)
def test_store_decisions_agree_with_the_smart_reference_model(
    scopes: list[str], patient: str | None, interactions: list[Interaction], transaction: bool
) -> None:
    grants = reference_grants(scopes, patient)
    permissions = permissions_from_scopes(scopes, patient)
    admin = "system/admin" in scopes
    want = [expected(grants, i, admin) for i in interactions]
    got = [actual(permissions, i) for i in interactions]
    assert got == want, (scopes, patient, interactions)
    assert bundle_verdicts(got, transaction) == bundle_verdicts(want, transaction)
