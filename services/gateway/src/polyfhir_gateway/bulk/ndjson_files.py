"""NDJSON files of bounded size, written through a spool file into the bulk storage.

Lines are buffered per page (a bounded number) and appended to the spool file in a
worker thread; a file closes when it holds ``max_lines`` lines or ``max_bytes`` bytes,
and only then is it handed to the storage and named in the job's checkpoint.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from polyfhir_gateway.bulk.storage import BulkStorage


@dataclass(frozen=True, slots=True)
class FileLimits:
    max_lines: int
    max_bytes: int


def output_file(rtype: str, name: str, count: int) -> dict[str, Any]:
    """A finished file as the job's checkpoint keeps it (``name`` under the job's folder)."""
    return {"type": rtype, "name": name, "count": count}


class NdjsonFiles:
    """The files of one stream (``rtype`` + ``suffix``) of one job, numbered from ``first``."""

    def __init__(
        self,
        storage: BulkStorage,
        job_id: str,
        rtype: str,
        suffix: str,
        limits: FileLimits,
        first: int,
    ) -> None:
        self.storage, self.job_id, self.rtype, self.suffix = storage, job_id, rtype, suffix
        self.limits, self.number = limits, first
        self.buffer: list[bytes] = []
        self.lines = 0
        self.bytes = 0
        self.spool: Path | None = None

    @property
    def full(self) -> bool:
        return self.lines >= self.limits.max_lines or self.bytes >= self.limits.max_bytes

    def add(self, line: bytes) -> None:
        self.buffer.append(line)
        self.lines += 1
        self.bytes += len(line) + 1

    async def flush(self) -> None:
        """Append the buffered lines to the spool file."""
        if not self.buffer:
            return
        if self.spool is None:
            self.spool = self.storage.spool / f"{self.job_id}-{uuid.uuid4().hex}.part"
        data = b"\n".join(self.buffer) + b"\n"
        self.buffer = []
        spool = self.spool

        def append() -> None:
            spool.parent.mkdir(parents=True, exist_ok=True)
            with spool.open("ab") as handle:
                handle.write(data)

        await asyncio.to_thread(append)

    async def close(self) -> dict[str, Any] | None:
        """Store the file (if it has lines); its checkpoint entry."""
        await self.flush()
        if self.spool is None or self.lines == 0:
            return None
        name = f"{self.rtype}{self.suffix}-{self.number}.ndjson"
        await self.storage.store(f"{self.job_id}/{name}", self.spool)
        done = output_file(self.rtype, name, self.lines)
        self.number += 1
        self.spool, self.lines, self.bytes = None, 0, 0
        return done

    def discard(self) -> None:
        if self.spool is not None:
            self.spool.unlink(missing_ok=True)
        self.spool, self.buffer, self.lines, self.bytes = None, [], 0, 0


def discard_spool(storage: BulkStorage, job_id: str) -> None:
    """Spool files a stopped process left for this job (it resumes from its checkpoint)."""
    for stale in storage.spool.glob(f"{job_id}-*.part"):
        stale.unlink(missing_ok=True)


RESULT = "result.json"
"""Written last by a finished job: its files are in place; gone once they are removed
(cancelled after the end, or expired), when the status answers 404."""


async def store_result(storage: BulkStorage, job_id: str, result: dict[str, Any]) -> None:
    spool = storage.spool / f"{job_id}-{uuid.uuid4().hex}.part"

    def write() -> None:
        spool.parent.mkdir(parents=True, exist_ok=True)
        spool.write_bytes(orjson.dumps(result))

    await asyncio.to_thread(write)
    await storage.store(f"{job_id}/{RESULT}", spool)
