"""One sample value of every type the services' contracts exchange (arguments and results).

``SAMPLES`` is keyed by the type as the Protocol declares it; the round-trip test fails
for a call whose types have no sample here, so a new contract type gets one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from polyfhir_core.contracts.primary_store import (
    BundleKind,
    EntryRequest,
    EntryResponse,
    HistoryQuery,
    JobState,
    Method,
    Page,
    ReindexJob,
    ResourceVersion,
    TenantPositions,
)
from polyfhir_core.contracts.search_index import (
    AppliedVersion,
    IndexedVersion,
    IndexStats,
    TextClause,
    TextField,
    TextHit,
    TextHits,
    TextSearch,
)
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
READ_ONLY = TenantPermissions(
    operations=frozenset({Operation.READ, Operation.SEARCH}),
    resource_types=frozenset({"Patient"}),
    compartment="Patient/p-1",
)

SAMPLES: dict[Any, Any] = {
    TenantContext: TenantContext(TenantId("acme/research"), READ_ONLY, request_id="req-7"),
    str: "p-1",
    int: 42,
    bool: True,
    BundleKind: BundleKind.BATCH,
    Sequence[EntryRequest]: [
        EntryRequest(Method.PUT, "Patient/p-1", {"resourceType": "Patient"}, if_match='W/"2"'),
        EntryRequest(Method.PATCH, "Patient/p-1", patch=[{"op": "remove", "path": "/active"}]),
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
    ReindexJob: ReindexJob("j-1", "acme", None, JobState.RUNNING, 10, 4, NOW),
    TenantPositions: TenantPositions({0: 7, 3: 1}, pending=2),
    list[ResourceVersion]: [ResourceVersion("Patient", "p-1", 3, deleted=True)],
    TextSearch: TextSearch(
        ("Condition",), (TextClause(TextField.TOKEN_TEXT, ("asthma", "copd"), "code"),), 50
    ),
    TextHits: TextHits((TextHit("Condition", "c-1", 1.5),), 3),
    dict[int, int]: {0: 5, 2: 9},
    list[AppliedVersion]: [AppliedVersion("Patient", "p-1", 3)],
    list[IndexedVersion]: [IndexedVersion("Patient", "p-1", 3, deleted=True)],
    IndexStats: IndexStats(10, 2, {0: 5}),
}
