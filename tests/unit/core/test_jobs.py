"""The job record's state transitions and what counts as an orphan (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from polyfhir_core.jobs import (
    RELEASED,
    Job,
    JobClaim,
    JobNotRunning,
    JobOutcome,
    JobProgress,
    JobState,
)

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def running(**changes: Any) -> Job:
    job = Job("j1", "acme", "reindex", {"resourceTypes": None}, T0, owner="a", heartbeat=T0)
    return replace(job, **changes)


def test_progress_changes_what_it_names_and_keeps_the_rest() -> None:
    job = running(total=10, done=2, counters={"x": 1}, checkpoint={"after": ["A", "1"]})
    later = T0 + timedelta(seconds=5)
    saved = job.progressed(JobProgress("a", later, done=4))
    assert (saved.done, saved.total, saved.counters, saved.checkpoint) == (
        4,
        10,
        {"x": 1},
        {"after": ["A", "1"]},
    )
    assert saved.heartbeat == later
    moved = saved.progressed(JobProgress("a", later, checkpoint={"after": ["B", "2"]}))
    assert moved.checkpoint == {"after": ["B", "2"]}


@pytest.mark.parametrize("state", [JobState.COMPLETED, JobState.CANCELLED, JobState.FAILED])
def test_an_ended_job_never_changes_again(state: JobState) -> None:
    ended = running().ended(JobOutcome(state, T0, "why" if state is JobState.FAILED else None))
    assert ended.state is state and ended.finished == T0
    with pytest.raises(JobNotRunning):
        ended.ended(JobOutcome(JobState.COMPLETED, T0))
    with pytest.raises(JobNotRunning):
        ended.progressed(JobProgress("a", T0, done=1))
    assert ended.cancel_asked() == ended  # asking to cancel an ended job is harmless


def test_a_job_cannot_end_as_running() -> None:
    with pytest.raises(ValueError, match="ends in"):
        running().ended(JobOutcome(JobState.RUNNING, T0))


def test_a_cancellation_request_is_recorded_on_a_running_job() -> None:
    assert running().cancel_asked().cancel_requested


def test_orphans_are_running_jobs_of_the_kinds_asked_with_a_stale_heartbeat() -> None:
    claim = JobClaim("b", ["reindex"], stale_before=T0, now=T0 + timedelta(minutes=1))
    assert running(heartbeat=T0 - timedelta(seconds=1)).is_orphan(claim)
    assert running(heartbeat=RELEASED).is_orphan(claim)  # released by a graceful stop
    assert running(heartbeat=None).is_orphan(claim)
    assert not running(heartbeat=T0).is_orphan(claim)  # beating: its process is alive
    assert not running(heartbeat=RELEASED, kind="rebuild").is_orphan(claim)
    ended = running(heartbeat=RELEASED).ended(JobOutcome(JobState.COMPLETED, T0))
    assert not ended.is_orphan(claim)
    claimed = running(heartbeat=RELEASED).claimed(claim)
    assert (claimed.owner, claimed.heartbeat) == ("b", claim.now)
