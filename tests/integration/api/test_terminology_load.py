"""``polyfhir terminology load`` through a real server (SQLite and PostgreSQL, both topologies).

The test servers take bodies up to 256 KiB (tests/conftest.py), so the loads here are
slices that fit: the shipped HL7 v3 hierarchies below that size with the value sets
over them, and ICD-10-CM chapter 3 (408 concepts). v3-ActCode (340 KB) shows what a
resource over the server's limit does.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from polyfhir import terminology_cli
from polyfhir.terminology.icd10cm import URL as ICD10CM
from polyfhir.terminology.icd10cm import installed_codesystem
from polyfhir.terminology.loader import LoadSummary, TerminologyLoader
from polyfhir.terminology.sources import read_sources
from polyfhir_engines.processes import free_port

pytestmark = pytest.mark.integration

V3 = ("v3-ActReason", "v3-RoleCode", "v3-ActMood", "v3-EntityCode")


def _v3_slice(ids: tuple[str, ...] = V3) -> list[dict[str, Any]]:
    """The v3 code systems ``ids`` and every shipped value set that includes one of them."""
    resources = read_sources(["hl7"]).resources
    systems = {r["url"] for r in resources if r["resourceType"] == "CodeSystem" and r["id"] in ids}
    chosen = [r for r in resources if r["resourceType"] == "CodeSystem" and r["url"] in systems]
    for r in resources:
        includes = (r.get("compose") or {}).get("include") or []
        if r["resourceType"] == "ValueSet" and any(i.get("system") in systems for i in includes):
            chosen.append(r)
    return chosen


@pytest.fixture(scope="module")
def icd10cm_chapter3() -> dict[str, Any]:
    return installed_codesystem(keep=lambda chapter: chapter == "3")


async def _load(fhir: httpx.AsyncClient, resources: list[dict[str, Any]]) -> LoadSummary:
    return await TerminologyLoader(fhir, max_entries=20, max_bytes=200 * 1024).load(resources)


def _counts(s: LoadSummary) -> tuple[int, int, int, int]:
    return s.created, s.updated, s.unchanged, len(s.failed)


async def test_hl7_hierarchies_and_their_value_sets_load_once(fhir: httpx.AsyncClient) -> None:
    resources = _v3_slice()
    value_sets = sum(1 for r in resources if r["resourceType"] == "ValueSet")
    assert value_sets >= len(V3)
    first = await _load(fhir, resources)
    assert _counts(first) == (len(resources), 0, 0, 0), first.failed
    again = await _load(fhir, resources)
    assert _counts(again) == (0, 0, len(resources), 0), again.failed
    stored = (await fhir.get("/CodeSystem/v3-ActReason")).json()
    assert stored["meta"]["versionId"] == "1"  # the reload wrote no new version
    found = await fhir.get(
        "/ValueSet", params={"url": "http://terminology.hl7.org/ValueSet/v3-ActMood"}
    )
    assert found.json()["total"] == 1


async def test_the_whole_hl7_set_loads_and_reloads_unchanged(
    server: Any, fhir: httpx.AsyncClient
) -> None:
    if server.topology != "inprocess" or server.backend != "postgresql":
        # 2,448 resources loaded twice: once is enough, on the engine with limits a real
        # definition can meet (an index entry's size); the slices above cover every server
        pytest.skip("the whole set runs once, on PostgreSQL in one process")
    resources = read_sources(["hl7"]).resources
    too_big = {"CodeSystem/v3-ActCode", "ValueSet/c80-doc-typecodes", "CodeSystem/dicom-dcim"}
    first = await _load(fhir, resources)
    assert {f.what for f in first.failed} == too_big  # over the test servers' 256 KiB
    assert all(f.status.startswith("413") for f in first.failed)
    assert first.created == len(resources) - len(too_big)
    again = await _load(fhir, resources)
    assert (again.created, again.updated) == (0, 0)
    assert again.unchanged == len(resources) - len(too_big)


async def test_icd10cm_slice_loads_and_its_hierarchy_answers_below(
    fhir: httpx.AsyncClient, icd10cm_chapter3: dict[str, Any]
) -> None:
    assert _counts(await _load(fhir, [icd10cm_chapter3])) == (1, 0, 0, 0)
    anemia = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": ICD10CM, "code": "D50.0"}]},  # iron deficiency anemia
    }
    created = (await fhir.post("/Observation", json=anemia)).json()["id"]
    for below in ("D50", "D50-D53", "3"):  # category, block, chapter
        found = await fhir.get("/Observation", params={"code:below": f"{ICD10CM}|{below}"})
        assert [e["resource"]["id"] for e in found.json()["entry"]] == [created], below
    assert _counts(await _load(fhir, [icd10cm_chapter3])) == (0, 0, 1, 0)


async def test_a_changed_definition_is_updated_and_one_without_id_is_created_once(
    fhir: httpx.AsyncClient, icd10cm_chapter3: dict[str, Any]
) -> None:
    await _load(fhir, [icd10cm_chapter3])
    changed = {**icd10cm_chapter3, "title": "ICD-10-CM, chapter 3 only"}
    assert _counts(await _load(fhir, [changed])) == (0, 1, 0, 0)
    anonymous = {k: v for k, v in _v3_slice(("v3-ActMood",))[0].items() if k != "id"}
    assert _counts(await _load(fhir, [anonymous])) == (1, 0, 0, 0)  # conditional create
    assert _counts(await _load(fhir, [anonymous])) == (0, 0, 1, 0)
    same_url = await fhir.get("/CodeSystem", params={"url": anonymous["url"]})
    assert same_url.json()["total"] == 1


async def test_a_resource_over_the_servers_limit_fails_and_the_rest_loads(
    fhir: httpx.AsyncClient,
) -> None:
    resources = _v3_slice(("v3-ActCode", "v3-ActMood"))
    summary = await _load(fhir, resources)
    assert [f.what for f in summary.failed] == ["CodeSystem/v3-ActCode"]
    assert summary.failed[0].status.startswith("413")
    assert "exceeds the limit" in summary.failed[0].diagnostics
    assert summary.created == len(resources) - 1


def _args(server: Any, tenant: str, sources: list[str], url: str | None = None) -> Any:
    return argparse.Namespace(
        sources=sources,
        tenant=tenant,
        url=url or f"{server.base_url}/fhir",
        token=None,
        batch_entries=20,
        batch_bytes=200 * 1024,
        timeout=60.0,
    )


async def test_the_cli_exit_codes(
    server: Any, tenant: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if server.topology != "services":
        pytest.skip("the CLI talks HTTP to a server process")
    good = tmp_path / "v3.ndjson"
    good.write_bytes(b"\n".join(orjson.dumps(r) for r in _v3_slice(("v3-ActMood",))))
    assert await asyncio.to_thread(terminology_cli.run, _args(server, tenant, [str(good)])) == 0
    assert "unchanged 0, failed 0" in capsys.readouterr().out
    assert await asyncio.to_thread(terminology_cli.run, _args(server, tenant, [str(good)])) == 0
    assert "created 0, updated 0, unchanged" in capsys.readouterr().out

    big = tmp_path / "actcode.json"
    big.write_bytes(orjson.dumps(_v3_slice(("v3-ActCode",))[0]))
    assert await asyncio.to_thread(terminology_cli.run, _args(server, tenant, [str(big)])) == 1
    assert "failed CodeSystem/v3-ActCode: 413" in capsys.readouterr().out

    nowhere = _args(server, tenant, [str(good)], url=f"http://127.0.0.1:{free_port()}/fhir")
    assert await asyncio.to_thread(terminology_cli.run, nowhere) == 1
    assert "cannot load through" in capsys.readouterr().out

    missing = _args(server, tenant, [str(tmp_path / "absent.ndjson")])
    assert await asyncio.to_thread(terminology_cli.run, missing) == 2
