"""The ``import`` job: NDJSON inputs written through the primary, batch by batch.

Each line is written like any client write (``PUT Type/id`` when it has an id, so a
re-run upserts instead of duplicating; ``POST Type`` otherwise): validation, index rows
and the outbox event all happen in the primary. A batch goes as one transaction (the
fast path); when the transaction refuses it, the same entries go again as a batch so
each bad line is told apart. Bad lines never stop the rest: each becomes an
OperationOutcome line (with its input and line number) in an error file.

The checkpoint (which input, how many of its lines are done) is saved after every
batch, after the batch's error lines are stored, so a resumed job repeats nothing
that was recorded and loses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx
import orjson

from polyfhir_core.contracts.primary_store import (
    BundleKind,
    EntryRequest,
    EntryResponse,
    Method,
    PrimaryStore,
)
from polyfhir_core.errors import FhirError, Issue, operation_outcome
from polyfhir_gateway.bulk.import_request import ImportInput, ImportRequest, file_input_path
from polyfhir_gateway.bulk.ndjson_files import FileLimits, NdjsonFiles, discard_spool, store_result
from polyfhir_gateway.bulk.storage import BulkStorage
from polyfhir_servicekit.jobs import JobRun

IMPORT = "import"
CHUNK = 1024 * 1024


@dataclass
class ImportCheckpoint:
    input_index: int = 0
    line: int = 0  # lines of the current input handled
    imported: list[int] = field(default_factory=list)  # per input: resources written
    error: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0

    @classmethod
    def of(cls, saved: dict[str, Any] | None) -> ImportCheckpoint:
        return cls(**saved) if saved else cls()


async def file_lines(url: str, allowed_dir: str | None) -> AsyncIterator[bytes]:
    path = file_input_path(url, allowed_dir)
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        rest = b""
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                yield line
        if rest:
            yield rest
    finally:
        handle.close()


async def http_lines(url: str) -> AsyncIterator[bytes]:
    async with httpx.AsyncClient(timeout=60.0) as client, client.stream("GET", url) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            yield line.encode()


@dataclass
class Importer:
    run: JobRun
    store: PrimaryStore
    storage: BulkStorage
    limits: FileLimits
    batch_size: int
    allowed_dir: str | None
    request: ImportRequest = field(init=False)
    checkpoint: ImportCheckpoint = field(init=False)
    errors: NdjsonFiles = field(init=False)

    def __post_init__(self) -> None:
        self.request = ImportRequest.of(self.run.job.params)
        self.checkpoint = ImportCheckpoint.of(self.run.checkpoint)
        first = len(self.checkpoint.error) + 1
        self.errors = NdjsonFiles(
            self.storage, self.run.job.id, "OperationOutcome", "-error", self.limits, first
        )
        while len(self.checkpoint.imported) < len(self.request.inputs):
            self.checkpoint.imported.append(0)

    def lines(self, item: ImportInput) -> AsyncIterator[bytes]:
        scheme = urlparse(item.url).scheme
        if scheme == "file":
            return file_lines(item.url, self.allowed_dir)
        if scheme == "s3":
            return self.storage.read_url(item.url)
        return http_lines(item.url)

    async def import_all(self) -> None:
        discard_spool(self.storage, self.run.job.id)
        inputs = self.request.inputs
        while self.checkpoint.input_index < len(inputs):
            await self._import(inputs[self.checkpoint.input_index])
            self.checkpoint.input_index += 1
            self.checkpoint.line = 0
            await self._save()
        await store_result(self.storage, self.run.job.id, vars(self.checkpoint))

    async def _import(self, item: ImportInput) -> None:
        skip, number = self.checkpoint.line, 0
        batch: list[tuple[int, bytes]] = []
        async for line in self.lines(item):
            number += 1
            if number <= skip or not line.strip():
                continue
            batch.append((number, line))
            if len(batch) >= self.batch_size:
                await self._apply(item, batch)
                self.checkpoint.line = number
                await self._save()
                batch = []
        if batch:
            await self._apply(item, batch)
        self.checkpoint.line = number

    async def _save(self) -> None:
        closed = await self.errors.close()
        if closed is not None:
            self.checkpoint.error.append(closed)
        done = sum(self.checkpoint.imported)
        counters = {"errors": self.checkpoint.errors}
        await self.run.save(done=done, counters=counters, checkpoint=vars(self.checkpoint))

    async def _apply(self, item: ImportInput, batch: list[tuple[int, bytes]]) -> None:
        entries: list[EntryRequest] = []
        numbers: list[int] = []
        for number, line in batch:
            entry = self._entry(item, number, line)
            if entry is not None:
                entries.append(entry)
                numbers.append(number)
        if not entries:
            return
        for number, response in zip(numbers, await self._write(entries), strict=True):
            if response.ok:
                self.checkpoint.imported[self.checkpoint.input_index] += 1
            else:
                self._error(item, number, _diagnostics(response))

    async def _write(self, entries: list[EntryRequest]) -> list[EntryResponse]:
        try:
            return await self.store.process(self.run.ctx, BundleKind.TRANSACTION, entries)
        except FhirError:  # one bad line spoils the transaction: tell them apart
            return await self.store.process(self.run.ctx, BundleKind.BATCH, entries)

    def _entry(self, item: ImportInput, number: int, line: bytes) -> EntryRequest | None:
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            self._error(item, number, f"not JSON: {exc}")
            return None
        if not isinstance(resource, dict) or resource.get("resourceType") != item.type:
            self._error(item, number, f"not a {item.type} resource")
            return None
        rid = resource.get("id")
        if isinstance(rid, str) and rid:
            return EntryRequest(Method.PUT, f"{item.type}/{rid}", resource)
        return EntryRequest(Method.POST, item.type, resource)

    def _error(self, item: ImportInput, number: int, message: str) -> None:
        self.checkpoint.errors += 1
        text = f"{item.url} line {number}: {message}"
        issue = Issue(code="invalid", diagnostics=text)
        self.errors.add(orjson.dumps(operation_outcome([issue])))


def _diagnostics(response: EntryResponse) -> str:
    issues = (response.outcome or {}).get("issue") or []
    texts = [str(i.get("diagnostics") or i.get("code")) for i in issues if isinstance(i, dict)]
    return "; ".join(texts) or f"HTTP {response.status}"
