"""Answers are gzip-compressed when the client asks (``Accept-Encoding: gzip``) and they
are at least ``POLYFHIR_GZIP_MIN_BYTES`` (default 1 KiB); otherwise they go as they are.
Runs over every backend and topology."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration

PATIENTS = 30
GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture
async def patients(fhir: httpx.AsyncClient) -> httpx.AsyncClient:
    entries = [
        {
            "resource": {
                "resourceType": "Patient",
                "id": f"gz{i}",
                "name": [{"family": f"Compressible{i}", "given": ["Alexandra", "Maria"]}],
                "address": [{"line": [f"{i} Long Street Name"], "city": "Springfield"}],
            },
            "request": {"method": "PUT", "url": f"Patient/gz{i}"},
        }
        for i in range(PATIENTS)
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = await fhir.post("", json=bundle)
    assert response.status_code == 200, response.text
    return fhir


async def test_a_large_search_answer_is_gzip_when_asked(patients: httpx.AsyncClient) -> None:
    response = await patients.get("/Patient", params={"_count": "50"}, headers=GZIP)
    assert response.status_code == 200, response.text
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert response.num_bytes_downloaded < len(response.content)  # smaller on the wire
    assert len(response.json()["entry"]) == PATIENTS  # and the same answer once decoded


async def test_a_large_search_answer_is_plain_when_not_asked(patients: httpx.AsyncClient) -> None:
    response = await patients.get("/Patient", params={"_count": "50"}, headers=PLAIN)
    assert response.status_code == 200, response.text
    assert "content-encoding" not in response.headers
    assert response.num_bytes_downloaded == len(response.content)
    assert len(response.json()["entry"]) == PATIENTS


async def test_a_small_answer_is_never_compressed(patients: httpx.AsyncClient) -> None:
    read = await patients.get("/Patient/gz1", headers=GZIP)
    assert read.status_code == 200, read.text
    assert len(read.content) < 1024
    assert "content-encoding" not in read.headers
    empty = await patients.get("/Patient", params={"_id": "absent"}, headers=GZIP)
    assert empty.status_code == 200, empty.text
    assert "content-encoding" not in empty.headers
