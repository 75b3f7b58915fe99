"""The ``export`` job: a consistent snapshot of a tenant, type by type, into NDJSON files.

It runs on the gateway's job runner (its record in the primary database) and reads
through the store contract's :meth:`PrimaryStore.snapshot`: keyset pages of one type
as they stood at ``transactionTime`` (``_until`` when earlier), so a write after the
kick-off never shows, half or whole, and a resumed job continues the same snapshot.

The checkpoint is saved whenever a file closes (its lines are then stored for good):
which type, the last id written, the files so far. A restarted gateway resumes from
there, dropping the spool of the file that was being written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from polyfhir_core.contracts.primary_store import PrimaryStore, SnapshotQuery
from polyfhir_core.errors import BadRequest, Issue, NotFound, operation_outcome
from polyfhir_core.projection import select_elements
from polyfhir_core.resources import StoredResource, format_instant
from polyfhir_core.search import parse_search
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.bulk.export_request import ExportLevel, ExportRequest
from polyfhir_gateway.bulk.membership import group_patients, in_compartment
from polyfhir_gateway.bulk.ndjson_files import (
    FileLimits,
    NdjsonFiles,
    discard_spool,
    store_result,
)
from polyfhir_gateway.bulk.storage import BulkStorage
from polyfhir_servicekit.jobs import JobRun

EXPORT = "export"


@dataclass
class ExportCheckpoint:
    type_index: int = 0
    after_id: str | None = None
    output: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[dict[str, Any]] = field(default_factory=list)
    error: list[dict[str, Any]] = field(default_factory=list)
    patients: list[str] | None = None  # resolved once (Group members, ``patient``)
    started: bool = False  # the first checkpoint (patients, errors) was saved

    @classmethod
    def of(cls, saved: dict[str, Any] | None) -> ExportCheckpoint:
        return cls(**saved) if saved else cls()


@dataclass
class Exporter:
    """One run of one export job (state lives in ``checkpoint`` and the job record)."""

    run: JobRun
    store: PrimaryStore
    storage: BulkStorage
    limits: FileLimits
    page_size: int
    request: ExportRequest = field(init=False)
    checkpoint: ExportCheckpoint = field(init=False)
    exported: int = 0

    def __post_init__(self) -> None:
        self.request = ExportRequest.of(self.run.job.params)
        self.checkpoint = ExportCheckpoint.of(self.run.checkpoint)
        # what the stored files hold (lines of a spool dropped on a restart are not counted)
        self.exported = sum(int(f["count"]) for f in self.checkpoint.output)

    @property
    def ctx(self) -> TenantContext:
        return self.run.ctx

    async def save(self, *, checkpoint: bool) -> None:
        counters = {"output_files": len(self.checkpoint.output)}
        saved = vars(self.checkpoint) if checkpoint else None
        await self.run.save(done=self.exported, counters=counters, checkpoint=saved)

    async def export(self) -> None:
        discard_spool(self.storage, self.run.job.id)
        if not self.checkpoint.started:
            await self._begin()
        types = self.request.types
        while self.checkpoint.type_index < len(types):
            wrote = await self._export_type(types[self.checkpoint.type_index])
            self.checkpoint.type_index += 1
            self.checkpoint.after_id = None
            if wrote:  # an empty type is cheap to look at again after a restart
                await self.save(checkpoint=True)
        await store_result(self.storage, self.run.job.id, vars(self.checkpoint))

    async def _begin(self) -> None:
        errors = self._files("OperationOutcome", "-error", self.checkpoint.error)
        for warning in self.request.warnings:
            errors.add(_outcome_line("information", warning))
        patients = self.request.patients
        if self.request.level is ExportLevel.GROUP:
            patients = await self._group_members(patients)
        if patients is not None:
            patients = await self._existing_patients(patients, errors)
        self.checkpoint.patients = patients
        closed = await errors.close()
        if closed is not None:
            self.checkpoint.error.append(closed)
        self.checkpoint.started = True
        await self.save(checkpoint=True)

    async def _group_members(self, asked: list[str] | None) -> list[str]:
        assert self.request.group_id is not None
        query = SnapshotQuery("Group", self.request.as_of, ids=[self.request.group_id], limit=1)
        page = await self.store.snapshot(self.ctx, query)
        group = page.resources[0] if page.resources else None
        if group is None or group.content is None:
            raise NotFound(f"Group/{self.request.group_id} did not exist at transactionTime")
        members = group_patients(group.content, self.request.as_of)
        return [p for p in members if p in asked] if asked is not None else members

    async def _existing_patients(self, ids: list[str], errors: NdjsonFiles) -> list[str]:
        found: list[str] = []
        for start in range(0, len(ids), self.page_size):
            chunk = ids[start : start + self.page_size]
            query = SnapshotQuery("Patient", self.request.as_of, ids=chunk, limit=len(chunk))
            page = await self.store.snapshot(self.ctx, query)
            live = {r.id for r in page.resources if not r.deleted}
            found += [p for p in chunk if p in live]
            for missing in (p for p in chunk if p not in live):
                errors.add(_outcome_line("warning", f"Patient/{missing} not found"))
        return found

    async def _export_type(self, rtype: str) -> bool:
        """Export one type; whether it read anything (then the progress was saved)."""
        output = self._files(rtype, "", self.checkpoint.output)
        deleted = self._files("Bundle", f"-{rtype}-deleted", self.checkpoint.deleted)
        after = self.checkpoint.after_id
        try:
            while True:
                as_of, since = self.request.as_of, self.request.since
                query = SnapshotQuery(rtype, as_of, since, after, limit=self.page_size)
                page = await self.store.snapshot(self.ctx, query)
                for stored in await self._selected(rtype, page.resources):
                    self._write(stored, output, deleted)
                    if output.full or deleted.full:
                        await self._close(output, deleted, stored.id)
                if not page.resources and after is None and page.next_after is None:
                    return False  # no resource of this type in the snapshot
                await output.flush()
                await deleted.flush()
                await self.save(checkpoint=False)  # heartbeat, progress, cancellation
                if page.next_after is None:
                    break
                after = page.next_after
            await self._close(output, deleted, None)
            return True
        except BaseException:
            output.discard()
            deleted.discard()
            raise

    def _files(self, rtype: str, suffix: str, stored: list[dict[str, Any]]) -> NdjsonFiles:
        """A stream of files numbered on from those of it already stored."""
        prefix = f"{rtype}{suffix}-"
        first = 1 + sum(1 for f in stored if f["name"].startswith(prefix))
        return NdjsonFiles(self.storage, self.run.job.id, rtype, suffix, self.limits, first)

    def _write(self, stored: StoredResource, output: NdjsonFiles, deleted: NdjsonFiles) -> None:
        line = None if stored.deleted else self._line(stored)
        if line is None:
            if self.request.since is not None:  # deletions only matter to a _since export
                deleted.add(orjson.dumps(_deletion(stored)))
            return
        output.add(line)
        self.exported += 1

    def _line(self, stored: StoredResource) -> bytes | None:
        """The resource's NDJSON line: its stored JSON text as it is when nothing selects
        elements from it (never decoded and encoded again: about half of an export's
        time per resource), else the selected elements."""
        if self.request.elements:
            return None if stored.content is None else orjson.dumps(self._elements(stored.content))
        body = stored.response_json()
        if body is None:
            return None
        line = orjson.dumps(body)
        return line if b"\n" not in line else orjson.dumps(stored.content)  # one line each

    async def _close(self, output: NdjsonFiles, deleted: NdjsonFiles, last: str | None) -> None:
        for files, kept in ((output, self.checkpoint.output), (deleted, self.checkpoint.deleted)):
            closed = await files.close()
            if closed is not None:
                kept.append(closed)
        if last is not None:
            self.checkpoint.after_id = last
            await self.save(checkpoint=True)

    def _elements(self, content: dict[str, Any]) -> dict[str, Any]:
        if not self.request.elements:
            return content
        rtype = str(content.get("resourceType"))
        mine = tuple(
            e.split(".", 1)[1] if "." in e else e
            for e in self.request.elements
            if "." not in e or e.startswith(f"{rtype}.")
        )
        return select_elements(content, mine) if mine else content

    async def _selected(self, rtype: str, page: list[StoredResource]) -> list[StoredResource]:
        kept = page
        if self.request.level is not ExportLevel.SYSTEM or self.checkpoint.patients is not None:
            kept = [r for r in kept if await self._in_compartment(r)]
        filters = self.request.type_filters.get(rtype)
        if filters:
            live = [r.id for r in kept if not r.deleted]
            matching = await self._matching(rtype, filters, live) if live else set()
            kept = [r for r in kept if r.deleted or r.id in matching]
        return kept

    async def _in_compartment(self, stored: StoredResource) -> bool:
        """In the exported patients' compartment; a deletion is judged by the version it
        deleted (only a ``_since`` export lists deletions)."""
        content = stored.content
        if stored.deleted:
            if self.request.since is None or stored.version < 2:
                return False
            rtype, previous = stored.resource_type, stored.version - 1
            content = (await self.store.vread(self.ctx, rtype, stored.id, previous)).content
        return content is not None and in_compartment(content, self.checkpoint.patients)

    async def _matching(self, rtype: str, filters: list[str], ids: list[str]) -> set[str]:
        """The ids among ``ids`` that match any of the ``_typeFilter`` queries of ``rtype``
        (evaluated by the primary's search over its current index)."""
        found: set[str] = set()
        for text in filters:
            pairs = parse_qsl(text, keep_blank_values=True)
            pairs += [("_id", ",".join(ids)), ("_count", str(len(ids))), ("_total", "none")]
            page = await self.store.search(self.ctx, parse_search(rtype, pairs))
            if page.ignored:
                raise BadRequest(f"_typeFilter {rtype}?{text}: unsupported {page.ignored}")
            found |= {r.id for r in page.resources}
        return found


def _deletion(stored: StoredResource) -> dict[str, Any]:
    """A deleted resource as the IG lists it: a transaction Bundle with a DELETE entry."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "request": {"method": "DELETE", "url": f"{stored.resource_type}/{stored.id}"},
                "response": {
                    "status": "204",
                    "lastModified": format_instant(stored.last_updated),
                },
            }
        ],
    }


def _outcome_line(severity: str, message: str) -> bytes:
    code = "informational" if severity == "information" else "not-found"
    issue = Issue(code=code, diagnostics=message, severity=severity)
    return orjson.dumps(operation_outcome([issue]))
