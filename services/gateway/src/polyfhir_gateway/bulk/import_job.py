"""The ``import`` job: NDJSON inputs written through the primary, batch by batch.

Each line is written like any client write (``PUT Type/id`` when it has an id, so a
re-run upserts instead of duplicating; ``POST Type`` otherwise): validation, index rows
and the outbox event all happen in the primary. A batch goes as one transaction (the
fast path); when the transaction refuses it, the same entries go again as a batch so
each bad line is told apart. Bad lines never stop the rest: each becomes an
OperationOutcome line (with its input and line number) in an error file.

Two batches are under way at a time: while the primary writes and commits one, the
next is parsed, validated and indexed (CPU work that would otherwise wait for the
database). Their outcomes land in order; the checkpoint (which input, how many of its
lines are done) is saved after each landed batch, after its error lines are stored,
so a resumed job repeats nothing that was recorded and loses nothing (a batch
committed but not yet landed when the process died is written again: upserts for
lines with an id).
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
class Flight:
    """One batch on its way to the primary: its entries, the write under way, the lines
    refused before it, and the last line it covers (the checkpoint once it landed)."""

    last: int
    entries: list[EntryRequest] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)  # Type/id of the entries that PUT
    write: asyncio.Future[list[EntryResponse]] | None = None


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
        flight: Flight | None = None
        try:
            async for line in self.lines(item):
                number += 1
                if number <= skip or not line.strip():
                    continue
                batch.append((number, line))
                if len(batch) >= self.batch_size:
                    flight = await self._send(item, batch, number, flight)
                    batch = []
            if batch:
                flight = await self._send(item, batch, number, flight)
            if flight is not None:
                await self._land(item, flight)
                flight = None
        finally:
            if flight is not None and flight.write is not None:
                flight.write.cancel()  # the job stops: its transaction rolls back
        self.checkpoint.line = number

    async def _send(
        self, item: ImportInput, batch: list[tuple[int, bytes]], last: int, previous: Flight | None
    ) -> Flight:
        """Start writing ``batch`` while ``previous`` (the batch before) finishes, then
        land ``previous``: the next batch's validation and index extraction run while
        the database writes and commits the last one. A batch updating a resource the
        one before also writes waits for it (the later line wins, as one by one)."""
        flight = self._parse(item, batch, last)
        if previous is not None and not previous.keys.isdisjoint(flight.keys):
            await self._land(item, previous)
            previous = None
        if flight.entries:
            flight.write = asyncio.ensure_future(self._write(flight.entries))
        if previous is not None:
            try:
                await self._land(item, previous)
            except BaseException:
                if flight.write is not None:
                    flight.write.cancel()
                raise
        return flight

    async def _land(self, item: ImportInput, flight: Flight) -> None:
        """Record a batch's outcome (counts, error lines) and save the checkpoint after it."""
        for number, message in flight.bad:
            self._error(item, number, message)
        if flight.write is not None:
            responses = await flight.write
            for number, response in zip(flight.numbers, responses, strict=True):
                if response.ok:
                    self.checkpoint.imported[self.checkpoint.input_index] += 1
                else:
                    self._error(item, number, _diagnostics(response))
        self.checkpoint.line = flight.last
        await self._save()

    async def _save(self) -> None:
        closed = await self.errors.close()
        if closed is not None:
            self.checkpoint.error.append(closed)
        done = sum(self.checkpoint.imported)
        counters = {"errors": self.checkpoint.errors}
        await self.run.save(done=done, counters=counters, checkpoint=vars(self.checkpoint))

    def _parse(self, item: ImportInput, batch: list[tuple[int, bytes]], last: int) -> Flight:
        flight = Flight(last)
        for number, line in batch:
            entry = self._entry(item, number, line, flight.bad)
            if entry is not None:
                flight.entries.append(entry)
                flight.numbers.append(number)
                if entry.method == Method.PUT:
                    flight.keys.add(entry.url)
        return flight

    async def _write(self, entries: list[EntryRequest]) -> list[EntryResponse]:
        try:
            return await self.store.process(self.run.ctx, BundleKind.TRANSACTION, entries)
        except FhirError:  # one bad line spoils the transaction: tell them apart
            return await self.store.process(self.run.ctx, BundleKind.BATCH, entries)

    def _entry(
        self, item: ImportInput, number: int, line: bytes, bad: list[tuple[int, str]]
    ) -> EntryRequest | None:
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            bad.append((number, f"not JSON: {exc}"))
            return None
        if not isinstance(resource, dict) or resource.get("resourceType") != item.type:
            bad.append((number, f"not a {item.type} resource"))
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
