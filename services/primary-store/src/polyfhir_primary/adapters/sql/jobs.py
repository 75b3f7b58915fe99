"""The ``jobs`` table: :class:`polyfhir_core.jobs.JobStore` over SQL (both dialects).

Every call is one short transaction of its own (never inside a resource write).
Progress saves and ends are conditional updates (``state = 'running'``, and the
owner for a save), so a late save of a process that lost its job changes nothing;
a claim is one ``UPDATE ... RETURNING``, so two runners never both take a job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson

from polyfhir_core.errors import NotFound
from polyfhir_core.jobs import (
    Job,
    JobClaim,
    JobNotRunning,
    JobOutcome,
    JobProgress,
    JobState,
    JsonObject,
)
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.adapters.sql.dialect import Conn, Dialect

# A short transaction bound to a tenant, or (None) seeing every tenant (the claim).
Transaction = Callable[[str | None], AbstractAsyncContextManager[Conn]]

_COLUMNS = (
    "id, tenant, kind, params, state, total, done, counters, checkpoint,"
    " started, finished, error, owner, heartbeat, cancel_requested"
)
_INSERT = f"INSERT INTO jobs ({_COLUMNS}) VALUES ({', '.join('?' * 15)})"
_GET = f"SELECT {_COLUMNS} FROM jobs WHERE tenant = ? AND id = ?"
_LIST = f"SELECT {_COLUMNS} FROM jobs WHERE tenant = ?"
_SAVE = (
    "UPDATE jobs SET done = COALESCE(?, done), total = COALESCE(?, total),"
    " counters = COALESCE(?, counters), checkpoint = COALESCE(?, checkpoint), heartbeat = ?"
    " WHERE tenant = ? AND id = ? AND state = 'running' AND owner = ?"
)
_FINISH = (
    "UPDATE jobs SET state = ?, finished = ?, error = ?, heartbeat = ?"
    " WHERE tenant = ? AND id = ? AND state = 'running'"
)
_CANCEL = "UPDATE jobs SET cancel_requested = ? WHERE tenant = ? AND id = ? AND state = 'running'"


def _json(value: JsonObject | dict[str, int] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _decode(row: Sequence[Any], d: Dialect) -> Job:
    (id_, tenant, kind, params, state, total, done, counters, checkpoint) = row[:9]
    started, finished, error, owner, heartbeat, cancel_requested = row[9:]
    return Job(
        id=id_,
        tenant=tenant,
        kind=kind,
        params=orjson.loads(params),
        started=d.read_ts(started),
        state=JobState(state),
        total=int(total),
        done=int(done),
        counters=orjson.loads(counters),
        checkpoint=None if checkpoint is None else orjson.loads(checkpoint),
        finished=None if finished is None else d.read_ts(finished),
        error=error,
        owner=owner,
        heartbeat=None if heartbeat is None else d.read_ts(heartbeat),
        cancel_requested=bool(cancel_requested),
    )


class SqlJobStore:
    def __init__(self, transaction: Transaction, dialect: Dialect) -> None:
        self._transaction, self._d = transaction, dialect

    def _ts(self, value: Any) -> Any:
        return None if value is None else self._d.ts(value)

    async def _get(self, conn: Conn, tenant: str, job_id: str) -> Job:
        rows = await conn.fetch(_GET, (tenant, job_id))
        if not rows:
            raise NotFound(f"no job {job_id!r} in this tenant")
        return _decode(rows[0], self._d)

    async def create_job(self, ctx: TenantContext, job: Job) -> Job:
        tenant = ctx.tenant.value
        args = (
            job.id,
            tenant,
            job.kind,
            _json(job.params),
            job.state.value,
            job.total,
            job.done,
            _json(job.counters),
            _json(job.checkpoint),
            self._d.ts(job.started),
            self._ts(job.finished),
            job.error,
            job.owner,
            self._ts(job.heartbeat),
            self._d.flag(job.cancel_requested),
        )
        async with self._transaction(tenant) as conn:
            await conn.execute(_INSERT, args)
            return await self._get(conn, tenant, job.id)

    async def get_job(self, ctx: TenantContext, job_id: str) -> Job:
        async with self._transaction(ctx.tenant.value) as conn:
            return await self._get(conn, ctx.tenant.value, job_id)

    async def list_jobs(self, ctx: TenantContext, kind: str | None, limit: int) -> list[Job]:
        sql, args = _LIST, [ctx.tenant.value]
        if kind is not None:
            sql, args = sql + " AND kind = ?", [*args, kind]
        async with self._transaction(ctx.tenant.value) as conn:
            rows = await conn.fetch(sql + " ORDER BY started DESC, id LIMIT ?", (*args, limit))
        return [_decode(row, self._d) for row in rows]

    async def save_job_progress(self, ctx: TenantContext, job_id: str, update: JobProgress) -> Job:
        tenant = ctx.tenant.value
        args = (
            update.done,
            update.total,
            _json(update.counters),
            _json(update.checkpoint),
            self._d.ts(update.heartbeat),
            tenant,
            job_id,
            update.owner,
        )
        async with self._transaction(tenant) as conn:
            await conn.execute(_SAVE, args)
            return await self._get(conn, tenant, job_id)

    async def finish_job(self, ctx: TenantContext, job_id: str, outcome: JobOutcome) -> Job:
        tenant, at = ctx.tenant.value, self._d.ts(outcome.finished)
        args = (outcome.state.value, at, outcome.error, at, tenant, job_id)
        async with self._transaction(tenant) as conn:
            changed = await conn.execute(_FINISH, args)
            job = await self._get(conn, tenant, job_id)
        if not changed:
            raise JobNotRunning(f"job {job_id} already ended ({job.state.value})")
        return job

    async def request_job_cancel(self, ctx: TenantContext, job_id: str) -> Job:
        tenant = ctx.tenant.value
        async with self._transaction(tenant) as conn:
            await conn.execute(_CANCEL, (self._d.flag(True), tenant, job_id))
            return await self._get(conn, tenant, job_id)

    async def claim_orphaned_jobs(self, ctx: TenantContext, claim: JobClaim) -> list[Job]:
        if not claim.kinds:
            return []
        kinds = ", ".join("?" for _ in claim.kinds)
        sql = (
            "UPDATE jobs SET owner = ?, heartbeat = ?"
            f" WHERE state = 'running' AND kind IN ({kinds})"
            " AND (heartbeat IS NULL OR heartbeat < ?)"
            f" RETURNING {_COLUMNS}"
        )
        args = (claim.owner, self._d.ts(claim.now), *claim.kinds, self._d.ts(claim.stale_before))
        async with self._transaction(None) as conn:  # every tenant's orphans
            rows = await conn.fetch(sql, args)
        return [_decode(row, self._d) for row in rows]
