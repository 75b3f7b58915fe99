"""An in-memory FHIR ``batch`` endpoint for clients under test (an ``httpx.MockTransport``).

Holds resources by (type, id) and answers the batch entries a loader sends: ``GET
Type/id``, ``GET Type?url=U[&version=V]`` (a searchset), ``PUT Type/id``
(update-as-create) and ``POST Type`` with ``ifNoneExist``. Like the real gateway, a
body over ``max_body_bytes`` is a 413 with an OperationOutcome, and a resource whose
id is in ``refused`` gets a 422 entry with one.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson

Json = dict[str, Any]


def _outcome(code: str, text: str) -> Json:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


class FakeFhirBatchServer:
    def __init__(self, *, max_body_bytes: int = 1024 * 1024, refused: set[str] | None = None):
        self.max_body_bytes = max_body_bytes
        self.refused = refused or set()
        self.resources: dict[tuple[str, str], Json] = {}
        self.versions: dict[tuple[str, str], int] = {}
        self.bundles_received = 0
        self._ids = itertools.count(1)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url="http://fake/fhir", transport=httpx.MockTransport(self._handle)
        )

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if len(request.content) > self.max_body_bytes:
            outcome = _outcome("too-costly", f"request body exceeds {self.max_body_bytes} bytes")
            return httpx.Response(413, json=outcome)
        bundle = orjson.loads(request.content)
        self.bundles_received += 1
        answers = [self._entry(entry) for entry in bundle["entry"]]
        return httpx.Response(
            200, json={"resourceType": "Bundle", "type": "batch-response", "entry": answers}
        )

    def _entry(self, entry: Json) -> Json:
        method, url = entry["request"]["method"], entry["request"]["url"]
        if method == "GET":
            return self._read(url)
        resource = entry["resource"]
        if resource.get("id") in self.refused:
            return {"response": {"status": "422", "outcome": _outcome("invalid", "refused")}}
        if method == "PUT":
            return self._put(url.split("/", 1)[0], url.split("/", 1)[1], resource)
        matches = self._search(url, entry["request"]["ifNoneExist"])
        if matches:
            return {"response": {"status": "200 OK"}}
        return self._put(url, f"gen{next(self._ids)}", resource)

    def _read(self, url: str) -> Json:
        if "?" in url:
            rtype, query = url.split("?", 1)
            matches = self._search(rtype, query)
            entries = [{"resource": r} for r in matches]
            searchset = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
            return {"response": {"status": "200 OK"}, "resource": searchset}
        rtype, rid = url.split("/", 1)
        found = self.resources.get((rtype, rid))
        if found is None:
            return {"response": {"status": "404 Not Found"}}
        return {"response": {"status": "200 OK"}, "resource": found}

    def _search(self, rtype: str, query: str) -> list[Json]:
        wanted = {k: v for k, v in parse_qsl(query) if k in ("url", "version")}
        return [
            r
            for (t, _), r in self.resources.items()
            if t == rtype and all(r.get(k) == v for k, v in wanted.items())
        ]

    def _put(self, rtype: str, rid: str, resource: Json) -> Json:
        key = (rtype, rid)
        version = self.versions.get(key, 0) + 1
        self.versions[key] = version
        self.resources[key] = {**resource, "id": rid, "meta": {"versionId": str(version)}}
        status = "201 Created" if version == 1 else "200 OK"
        return {"response": {"status": status, "location": f"{rtype}/{rid}/_history/{version}"}}
