"""A Bulk Data client for the tests: kick off, wait for the manifest, read the files."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from support import eventually

ASYNC = {"prefer": "respond-async"}


async def kick_off(fhir: httpx.AsyncClient, path: str, **params: str) -> str:
    response = await fhir.get(path, params=params, headers=ASYNC)
    assert response.status_code == 202, response.text
    return response.headers["content-location"]


async def manifest(fhir: httpx.AsyncClient, status_url: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        response = await fhir.get(status_url)
        if response.status_code == 202:
            assert response.headers["x-progress"]
            assert response.headers["retry-after"].isdigit()
            return None
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return await eventually(done, within=60.0, what=f"the manifest at {status_url}")


async def lines(fhir: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    response = await fhir.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]


async def exported(
    fhir: httpx.AsyncClient, body: dict[str, Any], part: str = "output"
) -> dict[str, list[dict[str, Any]]]:
    """The resources of a manifest's ``part`` by type (counts checked against the files)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in body[part]:
        found = await lines(fhir, entry["url"])
        assert len(found) == entry["count"]
        by_type.setdefault(entry["type"], []).extend(found)
    return by_type


async def export(fhir: httpx.AsyncClient, path: str = "/$export", **params: str) -> Any:
    return await manifest(fhir, await kick_off(fhir, path, **params))
