"""Durable background jobs: the record, its state transitions and the storage port.

A job is a long administrative operation of one tenant (reindex, reconcile or
rebuild of a secondary, and later bulk export) that outlives the request that
started it. Its record lives in the primary database, so every process sees it
and a restart never loses it:

- ``running`` -> ``completed`` | ``cancelled`` | ``failed`` (terminal states never change);
- while running, the process that runs it (``owner``) saves ``done``/``total``,
  kind-specific ``counters`` and a ``checkpoint`` (JSON: where to resume) after every
  batch and beats ``heartbeat``;
- a job whose heartbeat is older than the runners' stale limit was left by a process
  that died: another runner *claims* it and resumes it from its checkpoint (a kind
  that declares itself resumable) or marks it ``failed`` ("interrupted by a restart").

No I/O here: :class:`JobStore` is the port; the primary store implements it in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from polyfhir_core.errors import Conflict
from polyfhir_core.tenancy import TenantContext

JsonObject = dict[str, Any]

# A heartbeat this old means "nobody runs this job": written when a process stops
# gracefully, so the next runner claims the job at once instead of waiting.
RELEASED = datetime(1970, 1, 1, tzinfo=UTC)
INTERRUPTED = "interrupted by a restart"


class JobState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self is not JobState.RUNNING


class JobNotRunning(Conflict):
    """A transition asked of a job that already ended."""


@dataclass(frozen=True, slots=True)
class Job:
    """One durable job (see the module docstring for the life cycle)."""

    id: str
    tenant: str
    kind: str
    params: JsonObject
    started: datetime
    state: JobState = JobState.RUNNING
    total: int = 0
    done: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    checkpoint: JsonObject | None = None
    finished: datetime | None = None
    error: str | None = None
    owner: str | None = None
    heartbeat: datetime | None = None
    cancel_requested: bool = False

    def progressed(self, update: JobProgress) -> Job:
        """This job after ``update`` (unset fields of the update keep their value)."""
        _require_running(self)
        return replace(
            self,
            done=self.done if update.done is None else update.done,
            total=self.total if update.total is None else update.total,
            counters=self.counters if update.counters is None else dict(update.counters),
            checkpoint=self.checkpoint if update.checkpoint is None else update.checkpoint,
            heartbeat=update.heartbeat,
        )

    def ended(self, outcome: JobOutcome) -> Job:
        _require_running(self)
        if not outcome.state.terminal:
            raise ValueError("a job ends in completed, cancelled or failed")
        return replace(
            self,
            state=outcome.state,
            finished=outcome.finished,
            error=outcome.error,
            heartbeat=outcome.finished,
        )

    def cancel_asked(self) -> Job:
        return self if self.state.terminal else replace(self, cancel_requested=True)

    def is_orphan(self, claim: JobClaim) -> bool:
        """Left running by a process that no longer beats its heartbeat."""
        return (
            self.state is JobState.RUNNING
            and self.kind in claim.kinds
            and (self.heartbeat is None or self.heartbeat < claim.stale_before)
        )

    def claimed(self, claim: JobClaim) -> Job:
        return replace(self, owner=claim.owner, heartbeat=claim.now)


def _require_running(job: Job) -> None:
    if job.state.terminal:
        raise JobNotRunning(f"job {job.id} already ended ({job.state.value})")


@dataclass(frozen=True, slots=True)
class JobProgress:
    """A running job's progress as its owner saves it; ``None`` keeps the stored value.

    The save only applies while the job is running and ``owner`` still owns it; the
    store answers with the job as stored, so the owner learns of a cancellation
    request or of a claim by another process.
    """

    owner: str
    heartbeat: datetime
    done: int | None = None
    total: int | None = None
    counters: dict[str, int] | None = None
    checkpoint: JsonObject | None = None


@dataclass(frozen=True, slots=True)
class JobOutcome:
    state: JobState
    finished: datetime
    error: str | None = None


@dataclass(frozen=True, slots=True)
class JobClaim:
    """Take over running jobs of ``kinds`` whose heartbeat is older than ``stale_before``."""

    owner: str
    kinds: list[str]
    stale_before: datetime
    now: datetime


class JobStore(Protocol):
    """Where jobs are kept (the primary database). Every call is scoped to
    ``ctx.tenant`` except :meth:`claim_orphaned_jobs`, the runners' housekeeping,
    which takes over orphans of every tenant (a dead process ran jobs of many)."""

    async def create_job(self, ctx: TenantContext, job: Job) -> Job:
        """Store a new job (its ``tenant`` is ``ctx``'s)."""

    async def get_job(self, ctx: TenantContext, job_id: str) -> Job:
        """The job; NotFound when the tenant has no job of that id."""

    async def list_jobs(self, ctx: TenantContext, kind: str | None, limit: int) -> list[Job]:
        """The tenant's jobs (of ``kind``), newest first."""

    async def save_job_progress(self, ctx: TenantContext, job_id: str, update: JobProgress) -> Job:
        """Apply ``update`` if the job runs and ``update.owner`` owns it; the job as stored."""

    async def finish_job(self, ctx: TenantContext, job_id: str, outcome: JobOutcome) -> Job:
        """End a running job; JobNotRunning when it already ended."""

    async def request_job_cancel(self, ctx: TenantContext, job_id: str) -> Job:
        """Ask the job's owner to stop at its next save (a no-op on an ended job)."""

    async def claim_orphaned_jobs(self, ctx: TenantContext, claim: JobClaim) -> list[Job]:
        """Atomically make ``claim.owner`` the owner of every orphan (any tenant)."""


def claim_all(jobs: Sequence[Job], claim: JobClaim) -> list[Job]:
    """The orphans among ``jobs``, claimed (for stores that keep jobs in memory)."""
    return [job.claimed(claim) for job in jobs if job.is_orphan(claim)]
