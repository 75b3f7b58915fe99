"""Repair jobs: one background task per job, with progress and cancellation.

Jobs live in the gateway process that started them (``GET`` them on the same
replica); a job is cheap to start again, since reconciling is idempotent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from polyfhir_core.errors import NotFound
from polyfhir_core.resources import format_instant


class RepairKind(StrEnum):
    RECONCILE = "reconcile"
    REBUILD = "rebuild"


class RepairState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass
class RepairProgress:
    """What a job has seen and done so far (updated as it goes)."""

    compared: int = 0  # primary resources compared (reconcile) or queued (rebuild)
    index_entries: int = 0  # index entries read
    missing: int = 0  # in the primary, not (or not current) in the index: republished
    stale: int = 0  # the index holds an older version: republished
    orphans: int = 0  # in the index, unknown to the primary: removed
    removed: int = 0  # entries dropped before a rebuild
    republished: int = 0


@dataclass
class RepairJob:
    id: str
    tenant: str
    backend: str
    kind: RepairKind
    state: RepairState = RepairState.RUNNING
    progress: RepairProgress = field(default_factory=RepairProgress)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "backend": self.backend,
            "kind": self.kind.value,
            "state": self.state.value,
            "progress": vars(self.progress),
            "started": format_instant(self.started),
            "finished": format_instant(self.finished) if self.finished else None,
            "error": self.error,
        }


Work = Callable[[RepairJob], Awaitable[None]]


class RepairJobs:
    """Starts jobs as tasks, keeps them for status, cancels on request or shutdown."""

    def __init__(self) -> None:
        self._jobs: dict[str, RepairJob] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, tenant: str, backend: str, kind: RepairKind, work: Work) -> RepairJob:
        job = RepairJob(uuid.uuid4().hex[:16], tenant, backend, kind)
        self._jobs[job.id] = job
        self._tasks[job.id] = asyncio.create_task(self._run(job, work), name=f"repair-{job.id}")
        return job

    async def _run(self, job: RepairJob, work: Work) -> None:
        try:
            await work(job)
            job.state = RepairState.COMPLETED
        except asyncio.CancelledError:
            job.state = RepairState.CANCELLED
        except Exception as exc:  # a failed job reports why; the gateway goes on
            job.state, job.error = RepairState.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = datetime.now(UTC)
            self._tasks.pop(job.id, None)

    def get(self, tenant: str, job_id: str) -> RepairJob:
        job = self._jobs.get(job_id)
        if job is None or job.tenant != tenant:
            raise NotFound(f"no repair job {job_id!r} in this tenant")
        return job

    async def cancel(self, tenant: str, job_id: str) -> RepairJob:
        job = self.get(tenant, job_id)
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return job

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
