"""Bulk kick-off rules without a server: the per-tenant limit, parameters, Group members."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fakes.jobs import FakeJobStore
from polyfhir_core.errors import BadRequest
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.bulk.export_request import ExportLevel, read_export_request
from polyfhir_gateway.bulk.exports import BulkJobs, TooManyJobs
from polyfhir_gateway.bulk.membership import group_patients
from polyfhir_gateway.bulk.storage import LocalStorage
from polyfhir_servicekit.jobs import JobKind, JobRun, JobRunner

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


async def test_a_tenant_over_its_limit_gets_429_others_do_not(tmp_path: Path) -> None:
    hold = asyncio.Event()

    async def body(run: JobRun) -> None:
        await hold.wait()

    runner = JobRunner(FakeJobStore(), [JobKind("export", body)])
    jobs = BulkJobs(runner, LocalStorage(tmp_path), 2, timedelta(hours=1))
    busy, other = TenantContext.of("busy"), TenantContext.of("other")
    await jobs.start(busy, "export", {})
    await jobs.start(busy, "export", {})
    with pytest.raises(TooManyJobs) as refused:
        await jobs.start(busy, "export", {})
    assert refused.value.status == 429
    await jobs.start(other, "export", {})
    hold.set()
    await runner.close()


def _read(pairs: list[tuple[str, str]], level: ExportLevel = ExportLevel.SYSTEM) -> object:
    return read_export_request(pairs, level, request="r", now=NOW, strict=False)


def test_patient_level_types_are_the_patient_compartment() -> None:
    export = read_export_request([], ExportLevel.PATIENT, request="r", now=NOW, strict=False)
    assert "Observation" in export.types and "Patient" in export.types
    assert "Organization" not in export.types
    lenient = read_export_request(
        [("_type", "Organization,Observation")], ExportLevel.PATIENT, request="r", now=NOW,
        strict=False,
    )  # fmt: skip
    assert lenient.types == ["Observation"] and "Organization" in lenient.warnings[0]


@pytest.mark.parametrize(
    "pairs",
    [
        [("_since", "2026-12-07T00:00:00Z")],  # in the future
        [("_since", "2026-01-02T00:00:00Z"), ("_until", "2026-01-01T00:00:00Z")],
        [("_outputFormat", "application/json")],
        [("_typeFilter", "Nonsense?x=1")],
    ],
)
def test_bad_parameters_are_refused(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequest):
        _read(pairs)


def test_until_bounds_the_snapshot_before_the_kick_off() -> None:
    export = read_export_request(
        [("_until", "2026-01-01T00:00:00Z")], ExportLevel.SYSTEM, request="r", now=NOW,
        strict=True,
    )  # fmt: skip
    assert export.transaction_time == NOW
    assert export.as_of == datetime(2026, 1, 1, tzinfo=UTC)


def test_group_members_at_an_instant() -> None:
    group = {
        "member": [
            {"entity": {"reference": "Patient/a"}, "period": {"start": "2026"}},
            {"entity": {"reference": "Patient/b"}, "period": {"start": "2027-01"}},
            {"entity": {"reference": "Patient/c"}, "period": {"end": "2026-06-01"}},
            {"entity": {"reference": "Patient/d"}, "inactive": True},
            {"entity": {"reference": "Practitioner/e"}},
            {"entity": {"reference": "Patient/a"}},
        ]
    }
    assert group_patients(group, NOW) == ["a"]


async def test_the_sweep_removes_job_folders_past_the_expiry(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    jobs = BulkJobs(JobRunner(FakeJobStore(), []), storage, 2, timedelta(hours=1))
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Patient-1.ndjson").write_bytes(b"{}\n")
    hours_ago = (datetime.now(UTC) - timedelta(hours=2)).timestamp()
    os.utime(tmp_path / "old", (hours_ago, hours_ago))
    assert await jobs.sweep_expired() == 1
    assert sorted(os.listdir(tmp_path)) == ["new"]
