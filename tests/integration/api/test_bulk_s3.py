"""Bulk files in S3 (moto's server as a child process), over SQLite and PostgreSQL:
export files land in the bucket and come back through the gateway or by presigned
URL; cancellation removes them; ``$import`` reads ``s3://`` inputs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import orjson
import pytest

from bulk_client import ASYNC, export, exported, kick_off, manifest
from polyfhir_gateway.app import create_app
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_testing.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, LocalS3
from support import eventually

pytestmark = pytest.mark.integration


def s3_client(server: LocalS3) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


@pytest.fixture
def bucket(s3_server: LocalS3) -> str:
    name = f"b{uuid.uuid4().hex[:16]}"
    s3_client(s3_server).create_bucket(Bucket=name)
    return name


def objects(server: LocalS3, bucket: str) -> list[str]:
    listed = s3_client(server).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


async def gateway(
    store_app: Any, s3_server: LocalS3, bucket: str, tmp_path: Path, **extra: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        bulk_storage="s3",
        bulk_s3_bucket=bucket,
        bulk_s3_endpoint_url=s3_server.endpoint_url,
        bulk_s3_access_key_id=ACCESS_KEY_ID,
        bulk_s3_secret_access_key=SECRET_ACCESS_KEY,
        bulk_output_dir=str(tmp_path),
        **extra,
    )
    app = create_app(store_app.service, settings)
    headers = {"X-Tenant-ID": f"t{uuid.uuid4().hex[:12]}", "accept": "application/fhir+json"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver/fhir",
        headers=headers,
        timeout=30.0,
    ) as client:
        yield client
    await app.state.jobs.close()


@pytest.fixture
async def fhir_s3(
    store_app: Any, s3_server: LocalS3, bucket: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in gateway(store_app, s3_server, bucket, tmp_path):
        yield client


async def seed(fhir: httpx.AsyncClient, count: int) -> None:
    for n in range(count):
        response = await fhir.put(f"/Patient/p{n}", json={"resourceType": "Patient", "id": f"p{n}"})
        assert response.status_code == 201, response.text


async def test_export_files_go_to_the_bucket_and_come_back(
    fhir_s3: httpx.AsyncClient, s3_server: LocalS3, bucket: str
) -> None:
    await seed(fhir_s3, 3)
    status_url = await kick_off(fhir_s3, "/$export")
    body = await manifest(fhir_s3, status_url)
    assert body["requiresAccessToken"] is True
    by_type = await exported(fhir_s3, body)  # streamed from S3 through the gateway
    assert sorted(p["id"] for p in by_type["Patient"]) == ["p0", "p1", "p2"]
    job_id = status_url.rsplit("/", 1)[1]
    assert objects(s3_server, bucket) == [
        f"polyfhir-bulk/{job_id}/Patient-1.ndjson",
        f"polyfhir-bulk/{job_id}/result.json",
    ]
    assert (await fhir_s3.delete(status_url)).status_code == 202
    assert objects(s3_server, bucket) == []
    assert (await fhir_s3.get(status_url)).status_code == 404


async def test_presigned_urls_need_no_token(
    store_app: Any, s3_server: LocalS3, tmp_path: Path
) -> None:
    bucket = f"new{uuid.uuid4().hex[:16]}"  # not there yet: the gateway creates it
    async for fhir in gateway(store_app, s3_server, bucket, tmp_path, bulk_s3_presign_s=600):
        await seed(fhir, 2)
        body = await export(fhir)
        assert body["requiresAccessToken"] is False
        url = body["output"][0]["url"]
        assert url.startswith(s3_server.endpoint_url)
        async with httpx.AsyncClient() as anyone:
            response = await anyone.get(url)
        assert response.status_code == 200
        ids = sorted(orjson.loads(line)["id"] for line in response.content.splitlines())
        assert ids == ["p0", "p1"]


async def test_import_reads_s3_inputs(
    fhir_s3: httpx.AsyncClient, s3_server: LocalS3, bucket: str
) -> None:
    lines = [orjson.dumps({"resourceType": "Patient", "id": f"s{n}"}) for n in range(3)]
    s3_client(s3_server).put_object(Bucket=bucket, Key="in/patients.ndjson", Body=b"\n".join(lines))
    url = f"s3://{bucket}/in/patients.ndjson"
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "inputFormat", "valueString": "application/fhir+ndjson"},
            {
                "name": "input",
                "part": [
                    {"name": "type", "valueCode": "Patient"},
                    {"name": "url", "valueUri": url},
                ],
            },
        ],
    }
    response = await fhir_s3.post("/$import", json=parameters, headers=ASYNC)
    assert response.status_code == 202, response.text
    status_url = response.headers["content-location"]

    async def finished() -> dict[str, Any] | None:
        status = await fhir_s3.get(status_url)
        return None if status.status_code == 202 else status.json()

    body = await eventually(finished, what="the S3 import")
    assert body["output"] == [{"type": "Patient", "inputUrl": url, "count": 3}]
    assert (await fhir_s3.get("/Patient/s2")).status_code == 200
