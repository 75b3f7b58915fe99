"""Bulk files in an S3 bucket (AWS, MinIO, SeaweedFS, moto): ``<prefix>/<job id>/<file>``.

boto3 is synchronous: every call runs in a worker thread. A finished spool file is
uploaded (multipart for large files, by boto3's transfer manager) and then removed
locally. Files are served back through the gateway (tenant-checked, streamed) or,
with ``POLYFHIR_BULK_S3_PRESIGN=true``, by presigned URLs the manifest hands out
(then ``requiresAccessToken`` is false: the URL is the credential, for its lifetime).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

from polyfhir_core.errors import BadRequest, NotFound
from polyfhir_gateway.bulk.storage import CHUNK, check_key


class S3Storage:
    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str,
        spool: Path,
        presign_s: int | None = None,
    ) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.spool, self.presign_s = spool, presign_s  # the spool is made on first use
        self._bucket_checked = False

    @classmethod
    def connect(
        cls,
        *,
        bucket: str,
        prefix: str,
        spool: Path,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        presign_s: int | None = None,
    ) -> S3Storage:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )
        return cls(client, bucket, prefix, spool, presign_s)

    def _object(self, key: str) -> str:
        return f"{self.prefix}/{check_key(key)}" if self.prefix else check_key(key)

    def _ensure_bucket(self) -> None:
        """Create the bucket on first use when it does not exist (MinIO in compose)."""
        if self._bucket_checked:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            self.client.create_bucket(Bucket=self.bucket)
        self._bucket_checked = True

    async def store(self, key: str, source: Path) -> None:
        name = self._object(key)

        def upload() -> None:
            self._ensure_bucket()
            self.client.upload_file(str(source), self.bucket, name)
            source.unlink(missing_ok=True)

        await asyncio.to_thread(upload)

    async def _body(self, bucket: str, name: str) -> Any:
        try:
            found = await asyncio.to_thread(self.client.get_object, Bucket=bucket, Key=name)
        except ClientError as exc:
            raise NotFound(f"no object s3://{bucket}/{name}") from exc
        return found["Body"]

    async def _chunks(self, bucket: str, name: str) -> AsyncIterator[bytes]:
        body = await self._body(bucket, name)
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    def read(self, key: str) -> AsyncIterator[bytes]:
        return self._chunks(self.bucket, self._object(key))

    async def exists(self, key: str) -> bool:
        try:
            await asyncio.to_thread(
                self.client.head_object, Bucket=self.bucket, Key=self._object(key)
            )
        except ClientError:
            return False
        return True

    async def _listed(self, prefix: str) -> list[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")

        def listing() -> list[dict[str, Any]]:
            pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            return [item for page in pages for item in page.get("Contents", [])]

        return await asyncio.to_thread(listing)

    async def _delete(self, names: list[str]) -> None:
        for start in range(0, len(names), 1000):
            chunk = [{"Key": name} for name in names[start : start + 1000]]
            await asyncio.to_thread(
                self.client.delete_objects, Bucket=self.bucket, Delete={"Objects": chunk}
            )

    async def remove(self, prefix: str) -> None:
        if not prefix or "/" in prefix:
            return
        folder = f"{self.prefix}/{prefix}/" if self.prefix else f"{prefix}/"
        await self._delete([item["Key"] for item in await self._listed(folder)])

    async def remove_older_than(self, cutoff: datetime) -> int:
        root = f"{self.prefix}/" if self.prefix else ""
        newest: dict[str, datetime] = {}
        names: dict[str, list[str]] = {}
        for item in await self._listed(root):
            job = item["Key"][len(root) :].split("/", 1)[0]
            newest[job] = max(newest.get(job, item["LastModified"]), item["LastModified"])
            names.setdefault(job, []).append(item["Key"])
        expired = [job for job, written in newest.items() if written < cutoff]
        await self._delete([name for job in expired for name in names[job]])
        return len(expired)

    async def download_url(self, key: str) -> str | None:
        if self.presign_s is None:
            return None
        params = {"Bucket": self.bucket, "Key": self._object(key)}
        url: str = await asyncio.to_thread(
            self.client.generate_presigned_url,
            "get_object",
            Params=params,
            ExpiresIn=self.presign_s,
        )
        return url

    async def read_url(self, url: str) -> AsyncIterator[bytes]:
        """The lines of ``s3://bucket/key`` (an ``$import`` input)."""
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
            raise BadRequest(f"not an s3://bucket/key URL: {url!r}")
        rest = b""
        async for chunk in self._chunks(parsed.netloc, parsed.path.lstrip("/")):
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                yield line
        if rest:
            yield rest
