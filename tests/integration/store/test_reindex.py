"""Reindex jobs at the store level: cancellation, tenant scoping, progress."""

from __future__ import annotations

import uuid

import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.errors import Forbidden, NotFound
from polyfhir_core.jobs import JobState
from polyfhir_core.tenancy import TenantContext, TenantPermissions

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
