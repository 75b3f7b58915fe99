"""Repair jobs of a search secondary (reconcile, rebuild) on the durable job runner.

The job record lives in the primary database (polyfhir_core.jobs), so any gateway
replica answers for it and a restart does not lose it. A reconcile saves its
checkpoint (which pass, the last key compared) after every page and resumes from
it after a restart; a rebuild is not resumable: a restart marks it ``failed``
("interrupted by a restart") and the operator starts it again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from polyfhir_core.jobs import Job, JsonObject
from polyfhir_core.resources import format_instant
from polyfhir_servicekit.jobs import JobRun


class RepairKind(StrEnum):
    RECONCILE = "reconcile"
    REBUILD = "rebuild"


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

    @classmethod
    def of(cls, counters: dict[str, int]) -> RepairProgress:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in counters.items() if k in names})


class RepairJob:
    """A running repair as the reconciler sees it: counters, checkpoint, ``save``.

    ``run`` is the durable job it belongs to; ``None`` for a repair run inline by the
    convergence loop (``repair/convergence.py``), which reports through its own status
    and metrics and starts over rather than resuming."""

    def __init__(self, run: JobRun | None) -> None:
        self.run = run
        self.progress = RepairProgress.of(run.job.counters if run else {})  # resumed: counts on

    @property
    def checkpoint(self) -> JsonObject | None:
        return self.run.checkpoint if self.run else None

    async def save(self, checkpoint: JsonObject | None = None) -> None:
        """Persist the counters (and where to resume); stops the job when it is cancelled."""
        if self.run is None:
            return
        await self.run.save(
            done=self.progress.compared, counters=vars(self.progress), checkpoint=checkpoint
        )


def repair_json(job: Job) -> dict[str, Any]:
    """The admin API's view of a repair job (the fields of the in-memory jobs, and more)."""
    return {
        "id": job.id,
        "tenant": job.tenant,
        "backend": job.params.get("backend"),
        "kind": job.kind,
        "state": job.state.value,
        "progress": vars(RepairProgress.of(job.counters)),
        "started": format_instant(job.started),
        "finished": format_instant(job.finished) if job.finished else None,
        "error": job.error,
        "cancelRequested": job.cancel_requested,
        "checkpoint": job.checkpoint,
        "heartbeat": format_instant(job.heartbeat) if job.heartbeat else None,
    }
