"""Load CodeSystems, ValueSets and ConceptMaps through the FHIR API, idempotently.

Resources go through the normal write path (validation, index rows, the outbox
event every secondary consumes: the terminology-indexer among them) as ``batch``
Bundles, in chunks of at most ``max_entries`` resources and ``max_bytes`` of JSON:

1. one batch of reads finds what the server holds now: ``GET Type/id`` for a
   resource with an id, ``GET Type?url=U&version=V`` for one without;
2. a resource equal to the stored one (``meta`` aside) is *unchanged* and not
   written, so a reload creates no new versions and no change events;
3. the rest go as one batch of writes: ``PUT Type/id`` (update-as-create), or for a
   resource without an id a conditional create (``POST`` with ``If-None-Exist:
   url=U&version=V``), or a ``PUT`` to the id found by its url and version.

A batch the server refuses as too large (413) is split in two until it fits; a
single resource over the server's body limit fails with the server's
OperationOutcome (``POLYFHIR_MAX_BODY_BYTES``). Any other failed entry is recorded
with its OperationOutcome and never stops the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

Json = dict[str, Any]

MAX_ENTRIES = 50
MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Failure:
    """One resource the server did not take: which, the HTTP status and why."""

    what: str
    status: str
    outcome: Json | None = None

    @property
    def diagnostics(self) -> str:
        issues = (self.outcome or {}).get("issue") or []
        texts = [str(i.get("diagnostics") or i.get("code") or "") for i in issues]
        return "; ".join(t for t in texts if t) or self.status


@dataclass
class LoadSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: list[Failure] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"failed {len(self.failed)}, skipped {self.skipped} (not terminology)"
        )


@dataclass(frozen=True, slots=True)
class _Item:
    resource: Json
    size: int

    @property
    def what(self) -> str:
        r = self.resource
        if "id" in r:
            return f"{r['resourceType']}/{r['id']}"
        return f"{r['resourceType']}?{self.identity}"

    @property
    def identity(self) -> str:
        pairs = [("url", self.resource["url"])]
        if isinstance(self.resource.get("version"), str):
            pairs.append(("version", self.resource["version"]))
        return urlencode(pairs)

    def read_url(self) -> str:
        r = self.resource
        if "id" in r:
            return f"{r['resourceType']}/{r['id']}"
        return f"{r['resourceType']}?{self.identity}&_count=2"


def _without_meta(resource: Json, *, keep_id: bool = True) -> Json:
    return {k: v for k, v in resource.items() if k != "meta" and (keep_id or k != "id")}


def _found(item: _Item, entry: Json) -> Json | None:
    """The stored resource a read entry answered (None: not there, or not one match)."""
    if not str(entry.get("response", {}).get("status", "")).startswith("200"):
        return None
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        return None
    if resource.get("resourceType") != "Bundle":
        return resource
    matches = [e.get("resource") for e in resource.get("entry") or []]
    return matches[0] if len(matches) == 1 and isinstance(matches[0], dict) else None


def _same(item: _Item, stored: Json) -> bool:
    keep_id = "id" in item.resource
    return _without_meta(item.resource) == _without_meta(stored, keep_id=keep_id)


def _write_entry(item: _Item, stored: Json | None) -> Json:
    r = item.resource
    rtype = r["resourceType"]
    if "id" in r:
        return {"resource": r, "request": {"method": "PUT", "url": f"{rtype}/{r['id']}"}}
    if stored is not None:
        body = {**r, "id": stored["id"]}
        return {"resource": body, "request": {"method": "PUT", "url": f"{rtype}/{stored['id']}"}}
    return {
        "resource": r,
        "request": {"method": "POST", "url": rtype, "ifNoneExist": item.identity},
    }


def _bundle(entries: list[Json]) -> Json:
    return {"resourceType": "Bundle", "type": "batch", "entry": entries}


def _outcome(response: httpx.Response) -> Json | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class TerminologyLoader:
    """Loads resources through ``client`` (an httpx client on the FHIR base, tenant set)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        progress: Callable[[int], object] | None = None,
    ) -> None:
        self.client = client
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.progress = progress or (lambda done: None)
        self.summary = LoadSummary()

    async def load(self, resources: Sequence[Json]) -> LoadSummary:
        items: list[_Item] = []
        for resource in resources:
            if "id" not in resource and not isinstance(resource.get("url"), str):
                what = f"{resource.get('resourceType')} (no id, no url)"
                self.summary.failed.append(Failure(what, "not sent: needs an id or a url"))
                self.progress(1)
                continue
            items.append(_Item(resource, len(orjson.dumps(resource))))
        for chunk in self._chunks(items):
            await self._load_chunk(chunk)
            self.progress(len(chunk))
        return self.summary

    def _chunks(self, items: list[_Item]) -> list[list[_Item]]:
        chunks: list[list[_Item]] = [[]]
        size = 0
        for item in items:
            full = len(chunks[-1]) >= self.max_entries or size + item.size > self.max_bytes
            if chunks[-1] and full:
                chunks.append([])
                size = 0
            chunks[-1].append(item)
            size += item.size
        return [c for c in chunks if c]

    async def _load_chunk(self, chunk: list[_Item]) -> None:
        reads = [{"request": {"method": "GET", "url": item.read_url()}} for item in chunk]
        response = await self.client.post("", json=_bundle(reads))
        if response.status_code != 200:
            self._fail_all(chunk, response)
            return
        answers = response.json().get("entry") or []
        pending: list[tuple[_Item, Json]] = []
        for item, answer in zip(chunk, answers, strict=True):
            stored = _found(item, answer)
            if stored is not None and _same(item, stored):
                self.summary.unchanged += 1
            else:
                pending.append((item, _write_entry(item, stored)))
        await self._write(pending)

    async def _write(self, pending: list[tuple[_Item, Json]]) -> None:
        if not pending:
            return
        response = await self.client.post("", json=_bundle([entry for _, entry in pending]))
        if response.status_code == 413 and len(pending) > 1:
            half = len(pending) // 2
            await self._write(pending[:half])
            await self._write(pending[half:])
            return
        if response.status_code != 200:
            self._fail_all([item for item, _ in pending], response)
            return
        for (item, entry), answer in zip(pending, response.json()["entry"], strict=True):
            self._count(item, entry, answer.get("response") or {})

    def _count(self, item: _Item, entry: Json, response: Json) -> None:
        status = str(response.get("status", ""))
        if status.startswith("201"):
            self.summary.created += 1
        elif status.startswith("200"):
            if entry["request"]["method"] == "POST":  # a conditional create that matched
                self.summary.unchanged += 1
            else:
                self.summary.updated += 1
        else:
            self.summary.failed.append(Failure(item.what, status, response.get("outcome")))

    def _fail_all(self, items: list[_Item], response: httpx.Response) -> None:
        status = f"{response.status_code} {response.reason_phrase}".strip()
        outcome = _outcome(response)
        self.summary.failed += [Failure(item.what, status, outcome) for item in items]
