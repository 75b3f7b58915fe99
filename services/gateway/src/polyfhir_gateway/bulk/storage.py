"""Where bulk files are kept: one port, a local folder (default) or S3 (``s3_storage.py``).

A job writes each NDJSON file to a local *spool* file first (bounded size), then hands
the finished file to the storage under the key ``<job id>/<file name>``; files are
served back through the gateway (with the job's tenant check) or, on S3, by a
presigned URL when configured. Nothing here knows tenants: the job record does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from polyfhir_core.errors import BadRequest, NotFound

CHUNK = 256 * 1024


class BulkStorage(Protocol):
    spool: Path  # a local folder for files being written

    async def store(self, key: str, source: Path) -> None:
        """Keep the finished file ``source`` under ``key`` (``source`` is consumed)."""

    def read(self, key: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks; NotFound when there is none."""

    async def exists(self, key: str) -> bool: ...

    async def remove(self, prefix: str) -> None:
        """Remove every file under ``prefix`` (a job's folder)."""

    async def remove_older_than(self, cutoff: datetime) -> int:
        """Remove job folders last written before ``cutoff``; how many were removed."""

    async def download_url(self, key: str) -> str | None:
        """A direct URL for the file (S3 presigned), or None: served by the gateway."""

    def read_url(self, url: str) -> AsyncIterator[bytes]:
        """The lines of an ``s3://bucket/key`` input of ``$import`` (S3 storage only)."""


def check_key(key: str) -> str:
    parts = key.split("/")
    if len(parts) != 2 or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise NotFound(f"no bulk file {key!r}")
    return key


class LocalStorage:
    """A folder: ``<root>/<job id>/<file>``, spool in ``<root>/.spool`` (same file system)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.spool = root / ".spool"  # made on first use: a gateway never bulk-exporting
        # may run on a read-only file system

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def store(self, key: str, source: Path) -> None:
        target = self._path(key)

        def move() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)

        await asyncio.to_thread(move)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"no bulk file {key!r}")
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    async def remove(self, prefix: str) -> None:
        folder = self.root / prefix
        if folder.parent == self.root and prefix and not prefix.startswith("."):
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def remove_older_than(self, cutoff: datetime) -> int:
        def sweep() -> int:
            removed = 0
            if not self.root.is_dir():
                return 0
            for folder in self.root.iterdir():
                if folder.name.startswith(".") or not folder.is_dir():
                    continue
                written = datetime.fromtimestamp(folder.stat().st_mtime, UTC)
                if written < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
            return removed

        return await asyncio.to_thread(sweep)

    async def download_url(self, key: str) -> str | None:
        return None

    def read_url(self, url: str) -> AsyncIterator[bytes]:
        raise BadRequest(f"{url}: s3:// inputs need the S3 bulk storage")
