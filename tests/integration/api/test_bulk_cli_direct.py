"""``polyfhir export|import --store DSN``: the bulk jobs run by the CLI on the database
itself, no server (SQLite and embedded PostgreSQL). What a user would check: the files
and manifest, the resources readable and searchable in the target tenant, the change
events waiting in the outbox for the relay, and a re-run that adds no duplicate."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from polyfhir.cli import main
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.search import parse_search
from polyfhir_core.tenancy import TenantContext

pytestmark = pytest.mark.integration


@pytest.fixture
def store_url(store_app: Any, request: pytest.FixtureRequest) -> str:
    """The DSN of the database ``store_app`` runs on (the CLI opens it by itself)."""
    backend = "sqlite" if store_app.database.dialect == "sqlite" else "postgres"
    url: str = request.getfixturevalue(f"{backend}_url")
    return url


async def cli(*argv: str) -> int:
    """``polyfhir <argv>`` as a user runs it (its own event loop, in a thread)."""
    try:
        await asyncio.to_thread(main, list(argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def _resources() -> list[dict[str, Any]]:
    patients = [{"resourceType": "Patient", "id": f"p{n}", "gender": "female"} for n in range(3)]
    observations = [
        {
            "resourceType": "Observation",
            "id": f"o{n}",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/p{n % 3}"},
        }
        for n in range(120)  # more than a transaction saves before streaming its rows
    ]
    return [*patients, *observations]


P1_OBSERVATIONS = sorted(f"o{n}" for n in range(120) if n % 3 == 1)


async def _seed(store_app: Any, tenant: str) -> None:
    entries = [EntryRequest(Method.PUT, f"{r['resourceType']}/{r['id']}", r) for r in _resources()]
    await store_app.service.process(TenantContext.of(tenant), BundleKind.TRANSACTION, entries)


async def _events(store_app: Any, tenant: str) -> list[tuple[str, str, int]]:
    rows = await store_app.database.pending_outbox(1_000_000)
    return sorted((r.resource_type, r.resource_id, r.version) for r in rows if r.tenant == tenant)


async def _subjects_of(store_app: Any, tenant: str, patient: str) -> list[str]:
    query = parse_search("Observation", [("subject", f"Patient/{patient}"), ("_count", "100")])
    page = await store_app.service.search(TenantContext.of(tenant), query)
    return sorted(r.id for r in page.resources)


async def test_export_then_import_into_another_tenant_and_again(
    store_app: Any, store_url: str, tmp_path: Path
) -> None:
    source, target = f"t{uuid.uuid4().hex[:12]}", f"t{uuid.uuid4().hex[:12]}"
    await _seed(store_app, source)
    out = tmp_path / "export"
    assert await cli("export", "--store", store_url, "--tenant", source, "--out", str(out)) == 0
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    counts = sorted((o["type"], o["count"]) for o in manifest["output"])
    assert counts == [("Observation", 120), ("Patient", 3)]
    assert sorted(p.name for p in out.glob("*.ndjson")) == [
        "Observation-1.ndjson",
        "Patient-1.ndjson",
    ]

    assert await cli("import", str(out), "--store", store_url, "--tenant", target) == 0
    assert await _subjects_of(store_app, target, "p1") == P1_OBSERVATIONS  # index rows
    ids = sorted((r["resourceType"], r["id"]) for r in _resources())
    assert await _events(store_app, target) == [(t, i, 1) for t, i in ids]

    # A re-run upserts: each resource once more as version 2, none twice.
    assert await cli("import", str(out), "--store", store_url, "--tenant", target) == 0
    assert await _subjects_of(store_app, target, "p1") == P1_OBSERVATIONS
    assert await _events(store_app, target) == sorted([(t, i, v) for t, i in ids for v in (1, 2)])
    read = await store_app.service.read(TenantContext.of(target), "Observation", "o4")
    assert read.version == 2 and read.content["subject"] == {"reference": "Patient/p1"}


async def test_import_writes_bad_lines_to_an_error_file_with_their_numbers(
    store_app: Any, store_url: str, tmp_path: Path
) -> None:
    tenant = f"t{uuid.uuid4().hex[:12]}"
    source = tmp_path / "patients.ndjson"
    lines = [
        orjson.dumps({"resourceType": "Patient", "id": "ok1"}),
        b"{not json",
        orjson.dumps({"resourceType": "Patient", "id": "bad", "birthDate": "yesterday"}),
        orjson.dumps({"resourceType": "Patient", "id": "ok2"}),
    ]
    source.write_bytes(b"\n".join(lines) + b"\n")
    errors = tmp_path / "errors"
    argv = ["import", str(source), "--store", store_url, "--tenant", tenant]
    assert await cli(*argv, "--errors", str(errors)) == 0
    outcomes = [
        orjson.loads(x) for f in errors.glob("*.ndjson") for x in f.read_bytes().splitlines()
    ]
    where = sorted(o["issue"][0]["diagnostics"].split(": ")[0] for o in outcomes)
    assert where == [f"{source.as_uri()} line {n}" for n in (2, 3)]
    assert [e[1] for e in await _events(store_app, tenant)] == ["ok1", "ok2"]


async def test_export_of_a_group_that_does_not_exist_is_refused(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = f"t{uuid.uuid4().hex[:12]}"
    argv = ["export", "--store", store_url, "--tenant", tenant, "--group", "nope"]
    assert await cli(*argv, "--out", str(tmp_path / "out")) == 1
    assert "export refused" in capsys.readouterr().out


async def test_small_batches_keep_the_order_of_the_lines(
    store_app: Any, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resource on lines of several batches ends as its last line says, its versions
    in line order; the rows streamed within each batch land with it."""
    monkeypatch.setenv("POLYFHIR_BULK_IMPORT_BATCH", "2")
    tenant = f"t{uuid.uuid4().hex[:12]}"
    genders = ["male", None, "female", None, None, "other", None]
    lines = [
        orjson.dumps({"resourceType": "Patient", "id": "a", "gender": g})
        if g
        else orjson.dumps({"resourceType": "Patient", "id": f"x{n}"})
        for n, g in enumerate(genders)
    ]
    lines.insert(3, b"[]")  # line 4: not a Patient
    source = tmp_path / "patients.ndjson"
    source.write_bytes(b"\n".join(lines))
    argv = ["import", str(source), "--store", store_url, "--tenant", tenant]
    assert await cli(*argv, "--errors", str(tmp_path / "errors")) == 0
    read = await store_app.service.read(TenantContext.of(tenant), "Patient", "a")
    assert (read.version, read.content["gender"]) == (3, "other")
    events = await _events(store_app, tenant)
    assert [e for e in events if e[1] == "a"] == [("Patient", "a", v) for v in (1, 2, 3)]
    assert sorted(e[1] for e in events if e[1] != "a") == ["x1", "x3", "x4", "x6"]
    (error_file,) = (tmp_path / "errors").glob("*.ndjson")
    assert f"{source.as_uri()} line 4: " in error_file.read_text()
