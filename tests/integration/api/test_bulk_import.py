"""Bulk ``$import`` from NDJSON files over every server of the API matrix."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bulk_client import ASYNC, export, exported, lines
from support import eventually

pytestmark = pytest.mark.integration


def parameters(*inputs: tuple[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "inputFormat", "valueString": "application/fhir+ndjson"},
            *(
                {
                    "name": "input",
                    "part": [{"name": "type", "valueCode": t}, {"name": "url", "valueUri": u}],
                }
                for t, u in inputs
            ),
        ],
    }


async def run_import(fhir: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await fhir.post("/$import", json=body, headers=ASYNC)
    assert response.status_code == 202, response.text
    status_url = response.headers["content-location"]

    async def done() -> dict[str, Any] | None:
        status = await fhir.get(status_url)
        if status.status_code == 202:
            return None
        assert status.status_code == 200, status.text
        manifest: dict[str, Any] = status.json()
        return manifest

    return await eventually(done, within=60.0, what="the import manifest")


def ndjson_file(folder: Path, resources: list[Any]) -> str:
    path = folder / f"{uuid.uuid4().hex}.ndjson"
    path.write_bytes(
        b"\n".join(r if isinstance(r, bytes) else orjson.dumps(r) for r in resources) + b"\n"
    )
    return path.as_uri()


async def test_import_round_trip_with_a_bad_line(
    fhir: httpx.AsyncClient, bulk_import_dir: Path
) -> None:
    patients = [{"resourceType": "Patient", "id": f"p{n}", "gender": "other"} for n in range(5)]
    bad = [b"{not json", {"resourceType": "Observation", "id": "wrong-type"}]
    invalid = {"resourceType": "Patient", "id": "bad", "active": "yes", "birthDate": "x"}
    url = ndjson_file(bulk_import_dir, [*patients[:2], bad[0], *patients[2:], bad[1], invalid])
    manifest = await run_import(fhir, parameters(("Patient", url)))
    assert manifest["output"] == [{"type": "Patient", "inputUrl": url, "count": 5}]
    errors = [o for e in manifest["error"] for o in await lines(fhir, e["url"])]
    diagnostics = sorted(o["issue"][0]["diagnostics"] for o in errors)
    assert [d.split(": ")[0] for d in diagnostics] == [f"{url} line {n}" for n in (3, 7, 8)]
    for patient in patients:
        read = await fhir.get(f"/Patient/{patient['id']}")
        assert read.status_code == 200 and read.json()["gender"] == "other"
    search = await fhir.get("/Patient", params={"gender": "other", "_total": "accurate"})
    assert search.json()["total"] == 5  # index rows were written

    again = await run_import(fhir, parameters(("Patient", url)))  # re-run: upserts
    assert again["output"][0]["count"] == 5
    everything = await exported(fhir, await export(fhir, _type="Patient"))
    assert sorted(p["id"] for p in everything["Patient"]) == [p["id"] for p in patients]


async def test_import_refuses_inputs_outside_the_allowed_folder(
    fhir: httpx.AsyncClient, tmp_path: Path
) -> None:
    url = ndjson_file(tmp_path, [{"resourceType": "Patient"}])
    response = await fhir.post("/$import", json=parameters(("Patient", url)), headers=ASYNC)
    assert response.status_code == 400
    assert "outside" in response.text
    ftp = await fhir.post(
        "/$import", json=parameters(("Patient", "ftp://x/y.ndjson")), headers=ASYNC
    )
    assert ftp.status_code == 400
    no_async = await fhir.post("/$import", json=parameters(("Patient", url)))
    assert no_async.status_code == 400


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """``tmp_path`` served over HTTP (a plain static server on a free port)."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


async def test_import_reads_http_inputs(
    fhir: httpx.AsyncClient, http_folder: tuple[Path, str]
) -> None:
    folder, base = http_folder
    observations = [
        {"resourceType": "Observation", "id": f"h{n}", "status": "final", "code": {"text": "x"}}
        for n in range(3)
    ]
    name = Path(ndjson_file(folder, observations)).name
    manifest = await run_import(fhir, parameters(("Observation", f"{base}/{name}")))
    assert manifest["output"][0]["count"] == 3
    assert manifest["error"] == []
    assert (await fhir.get("/Observation/h1")).status_code == 200
