"""Reindex jobs at the store level: cancellation, tenant scoping, progress."""

from __future__ import annotations

import uuid

import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.errors import Forbidden, NotFound
from polyfhir_core.jobs import JobState
from polyfhir_core.search import parse_search
from polyfhir_core.tenancy import TenantContext, TenantPermissions
from polyfhir_primary.adapters.sql.session import SqlSession

pytestmark = pytest.mark.integration


async def test_cancel_before_the_first_batch_and_scoping(store_app) -> None:  # type: ignore[no-untyped-def]
    service = store_app.service
    ctx = TenantContext.of(f"t{uuid.uuid4().hex[:10]}")
    entries = [
        EntryRequest(Method.PUT, f"Patient/p{i}", {"resourceType": "Patient", "id": f"p{i}"})
        for i in range(5)
    ]
    await service.process(ctx, BundleKind.TRANSACTION, entries)
    job = await service.reindex(ctx, ["Patient"])
    assert (job.state, job.total) == (JobState.RUNNING, 5)
    cancelled = await service.reindex_cancel(ctx, job.id)
    assert cancelled.state == JobState.CANCELLED
    assert (await service.reindex_status(ctx, job.id)).state == JobState.CANCELLED
    with pytest.raises(NotFound):
        await service.reindex_status(TenantContext.of("someone-else"), job.id)
    with pytest.raises(Forbidden):
        await service.reindex(
            TenantContext.of(ctx.tenant.value, TenantPermissions.read_only()), None
        )
    done = await service.reindex(ctx, None)
    finished = await service.jobs.wait(ctx, done.id)
    assert (finished.state, finished.done, finished.total) == (JobState.COMPLETED, 5, 5)


async def test_reindex_fills_the_token_words_of_resources_stored_before_them(store_app) -> None:  # type: ignore[no-untyped-def]
    """Migrations pg 0014 / SQLite 0009 leave idx_token_word empty for older rows: a
    reindex fills it, after which ``:text`` finds them by any word."""
    service = store_app.service
    ctx = TenantContext.of(f"t{uuid.uuid4().hex[:10]}")
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"code": "44054006", "display": "Type 2 diabetes mellitus"}]},
    }
    await service.process(
        ctx, BundleKind.TRANSACTION, [EntryRequest(Method.PUT, "Condition/c1", condition)]
    )
    query = parse_search("Condition", [("code:text", "diabetes")])
    assert [r.id for r in (await service.search(ctx, query)).resources] == ["c1"]
    async with store_app.database.session(ctx.tenant, write=True) as session:
        assert isinstance(session, SqlSession)
        await session.conn.execute(
            "DELETE FROM idx_token_word WHERE tenant = ?", [ctx.tenant.value]
        )
    assert (await service.search(ctx, query)).resources == []  # as if stored before the migration
    job = await service.reindex(ctx, ["Condition"])
    assert (await service.jobs.wait(ctx, job.id)).state == JobState.COMPLETED
    assert [r.id for r in (await service.search(ctx, query)).resources] == ["c1"]
