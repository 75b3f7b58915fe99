"""One sample value of every type the services' contracts exchange (arguments and results).

``SAMPLES`` is keyed by the type as the Protocol declares it; the round-trip test fails
for a call whose types have no sample here, so a new contract type gets one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from polyfhir_core.contracts.graph_index import (
    ChainStep,
    ChainWalk,
    CompartmentPage,
    CompartmentRequest,
    GraphHits,
    GraphStats,
    HasStep,
    HasWalk,
    LinkCount,
)
from polyfhir_core.contracts.patch import Patch, PatchFormat
from polyfhir_core.contracts.primary_store import (
    BundleKind,
    EntryRequest,
    EntryResponse,
    HistoryQuery,
    Method,
    Page,
    ResourceVersion,
    SnapshotPage,
    SnapshotQuery,
    TenantPositions,
    TenantRecord,
    TypeGeneration,
)
from polyfhir_core.contracts.search_index import (
    IndexState,
    IndexStats,
    TextClause,
    TextField,
    TextHit,
    TextHits,
    TextSearch,
)
from polyfhir_core.contracts.secondary import AppliedVersion, IndexedVersion
from polyfhir_core.contracts.terminology import (
    CodeSet,
    CodeSetKind,
    CodeSetRequest,
    Coding,
    ConceptProperty,
    Designation,
    ExpandRequest,
    Expansion,
    ExpansionEntry,
    LookupRequest,
    LookupResult,
    SubsumesRequest,
    Subsumption,
    TerminologyStats,
    TranslateMatch,
    TranslateRequest,
    TranslateResult,
    ValidateCodeRequest,
    ValidateCodeResult,
)
from polyfhir_core.jobs import Job, JobClaim, JobOutcome, JobProgress, JobState
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.search import SearchQuery
from polyfhir_core.search.query import IncludeSpec, SearchParam, SortKey
from polyfhir_core.tenancy import Operation, TenantContext, TenantId, TenantPermissions

NOW = datetime(2026, 12, 6, 20, 0, 0, 123000, tzinfo=UTC)
KEY = ResourceKey("Patient", "p-1")
STORED = StoredResource(
    TenantId("acme/research"),
    "Patient",
    "p-1",
    3,
    NOW,
    False,
    {"resourceType": "Patient", "id": "p-1", "meta": {"versionId": "3"}, "active": True},
)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
DESIGNATION = Designation(
    "Diabète de type 2", "fr", Coding("http://snomed.info/sct", "900000000000013009")
)
READ_ONLY = TenantPermissions(
    operations=frozenset({Operation.READ, Operation.SEARCH}),
    resource_types=frozenset({"Patient"}),
    compartment="Patient/p-1",
)

JOB = Job(
    "j-1",
    "acme",
    "reindex",
    {"resource_types": ["Patient"]},
    NOW,
    total=10,
    done=4,
    counters={"indexed": 4},
    checkpoint={"after": ["Patient", "p-1"]},
    owner="primary-1",
    heartbeat=NOW,
)

SAMPLES: dict[Any, Any] = {
    TenantContext: TenantContext(TenantId("acme/research"), READ_ONLY, request_id="req-7"),
    str: "p-1",
    int: 42,
    float: 2.5,
    bool: True,
    BundleKind: BundleKind.BATCH,
    Sequence[EntryRequest]: [
        EntryRequest(Method.PUT, "Patient/p-1", {"resourceType": "Patient"}, if_match='W/"2"'),
        EntryRequest(
            Method.PATCH,
            "Patient/p-1",
            patch=Patch(PatchFormat.JSON_PATCH, [{"op": "remove", "path": "/active"}]),
        ),
    ],
    list[EntryResponse]: [
        EntryResponse(
            200,
            location="Patient/p-1/_history/3",
            etag='W/"3"',
            last_modified=NOW,
            written=ResourceVersion("Patient", "p-1", 3),
        ),
        EntryResponse(404, outcome={"resourceType": "OperationOutcome", "issue": []}),
    ],
    StoredResource: STORED,
    list[StoredResource]: [STORED],
    Sequence[ResourceKey]: [KEY, ResourceKey("Observation", "o-1")],
    list[ResourceKey]: [KEY],
    ResourceKey | None: KEY,
    SearchQuery: SearchQuery(
        "Patient",
        (SearchParam("name", ("Smith", "Jones"), "exact"),),
        count=10,
        sort=(SortKey("birthdate", descending=True),),
        total="accurate",
        includes=(IncludeSpec("Patient", "organization", "Organization"),),
        compartment=("Practitioner", "x"),
    ),
    HistoryQuery: HistoryQuery("Patient", "p-1", since=NOW, count=5, page_token="t"),
    Page: Page([STORED], total=1, next_token="n", included=[STORED], ignored=["_x"]),
    list[str] | None: ["Patient", "Observation"],
    Job: JOB,
    list[Job]: [JOB, JOB],
    str | None: "reindex",
    JobProgress: JobProgress(
        "gateway-1", NOW, done=5, counters={"repaired": 1}, checkpoint={"a": 1}
    ),
    JobOutcome: JobOutcome(JobState.FAILED, NOW, "interrupted by a restart"),
    JobClaim: JobClaim("gateway-2", ["reconcile", "rebuild"], NOW, NOW),
    TenantPositions: TenantPositions({0: 7, 3: 1}, pending=2),
    TypeGeneration: TypeGeneration(versions=3, last_seq=41),
    TenantRecord: TenantRecord("acme/research", NOW, "deleting", 12, provisioned_now=True),
    list[TenantRecord]: [TenantRecord("acme", NOW), TenantRecord("acme/research", NOW)],
    dict[str, int]: {"resources": 3, "idx_token": 40},
    list[ResourceVersion]: [ResourceVersion("Patient", "p-1", 3, deleted=True)],
    TextSearch: TextSearch(
        ("Condition",), (TextClause(TextField.TOKEN_TEXT, ("asthma", "copd"), "code"),), 50
    ),
    TextHits: TextHits((TextHit("Condition", "c-1", 1.5),), 3),
    dict[int, int]: {0: 5, 2: 9},
    list[AppliedVersion]: [AppliedVersion("Patient", "p-1", 3)],
    list[IndexedVersion]: [IndexedVersion("Patient", "p-1", 3, deleted=True)],
    IndexStats: IndexStats(10, 2, {0: 5}),
    IndexState: IndexState("g-2", False, 1, {0: 5, 1: 2}),
    list[str]: ["acme", "acme/research"],
    ChainWalk: ChainWalk(
        "Observation",
        (ChainStep("subject", "Patient"), ChainStep("organization", "Organization")),
        ("o-1", "o-2"),
        limit=200,
    ),
    HasWalk: HasWalk("Patient", (HasStep("Observation", "subject"),), ("obs-1",), 10),
    GraphHits: GraphHits(("p-1", "p-2"), complete=False),
    CompartmentRequest: CompartmentRequest(
        ("p-1",), ("Observation", "Encounter"), NOW, ResourceKey("Encounter", "e-1"), 50
    ),
    CompartmentPage: CompartmentPage((KEY, ResourceKey("Observation", "o-1")), complete=True),
    GraphStats: GraphStats(
        10,
        1,
        25,
        {0: 5},
        {"Patient": 4, "Observation": 6},
        (LinkCount("Observation", "subject", "Patient", 25),),
    ),
    LinkCount: LinkCount("Observation", "subject", "Patient", 25),
    SnapshotQuery: SnapshotQuery("Patient", NOW, since=NOW, after_id="p-0", ids=["p-1"], limit=9),
    SnapshotPage: SnapshotPage([STORED], next_after="p-1"),
    LookupRequest: LookupRequest(ICD, "E11.9", "2024", ("parent", "child"), "de"),
    LookupResult: LookupResult(
        "ICD10CM",
        "Type 2 diabetes mellitus without complications",
        "2024",
        designations=(DESIGNATION,),
        properties=(ConceptProperty("parent", {"valueCode": "E11"}),),
    ),
    ValidateCodeRequest: ValidateCodeRequest(
        (Coding(ICD, "E11.9", "Type 2 diabetes"),),
        value_set_url="http://example.org/vs|1",
        value_set={"resourceType": "ValueSet", "compose": {"include": [{"system": ICD}]}},
    ),
    ValidateCodeResult: ValidateCodeResult(False, "display differs", "Type 2 diabetes mellitus"),
    SubsumesRequest: SubsumesRequest(ICD, "E11", "E11.9", "2024"),
    Subsumption: Subsumption.SUBSUMES,
    ExpandRequest: ExpandRequest(
        value_set_id="vs-1",
        filter="diab",
        offset=10,
        count=5,
        active_only=True,
        include_designations=True,
    ),
    Expansion: Expansion(
        "http://example.org/vs",
        "1",
        "urn:uuid:5f0c",
        NOW,
        120,
        10,
        (ExpansionEntry(ICD, "E11.9", "Type 2 diabetes", designations=(DESIGNATION,)),),
        (ConceptProperty("offset", {"valueInteger": 10}),),
    ),
    TranslateRequest: TranslateRequest(
        ICD, "E11.9", concept_map_url="http://example.org/cm", reverse=True
    ),
    TranslateResult: TranslateResult(
        True,
        None,
        (
            TranslateMatch(
                "equivalent", Coding("http://snomed.info/sct", "44054006"), "http://example.org/cm"
            ),
        ),
    ),
    CodeSetRequest: CodeSetRequest(CodeSetKind.BELOW, ICD, "E11", limit=500),
    CodeSet: CodeSet(((ICD, "E11"), (ICD, "E11.9")), complete=True),
    TerminologyStats: TerminologyStats(2, 3, 1, 95000, {0: 4}),
}
