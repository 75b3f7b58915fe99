"""The gateway's bulk job kinds and their storage, built from the settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_gateway.bulk.export_job import EXPORT, Exporter
from polyfhir_gateway.bulk.exports import BulkJobs
from polyfhir_gateway.bulk.import_job import IMPORT, Importer
from polyfhir_gateway.bulk.ndjson_files import FileLimits
from polyfhir_gateway.bulk.s3_storage import S3Storage
from polyfhir_gateway.bulk.storage import BulkStorage, LocalStorage
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_servicekit.jobs import JobKind, JobRun, JobRunner


def bulk_storage(settings: GatewaySettings) -> BulkStorage:
    """The local folder, or the S3 bucket (spooling in the local folder)."""
    root = Path(settings.bulk_output_dir)
    if settings.bulk_storage == "local":
        return LocalStorage(root)
    secret = settings.bulk_s3_secret_access_key
    return S3Storage.connect(
        bucket=str(settings.bulk_s3_bucket),
        prefix=settings.bulk_s3_prefix,
        spool=root / ".spool",
        endpoint_url=settings.bulk_s3_endpoint_url,
        region=settings.bulk_s3_region,
        access_key_id=settings.bulk_s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret else None,
        presign_s=settings.bulk_s3_presign_s,
    )


def bulk_kinds(
    store: PrimaryStore, storage: BulkStorage, settings: GatewaySettings
) -> list[JobKind]:
    limits = FileLimits(settings.bulk_file_max_resources, settings.bulk_file_max_bytes)

    async def export(run: JobRun) -> None:
        await Exporter(run, store, storage, limits, settings.bulk_page_size).export()

    async def import_(run: JobRun) -> None:
        batch = settings.bulk_import_batch
        await Importer(run, store, storage, limits, batch, settings.bulk_import_dir).import_all()

    return [JobKind(EXPORT, export, resumable=True), JobKind(IMPORT, import_, resumable=True)]


def bulk_jobs(runner: JobRunner, storage: BulkStorage, settings: GatewaySettings) -> BulkJobs:
    return BulkJobs(
        runner,
        storage,
        settings.bulk_max_jobs_per_tenant,
        timedelta(seconds=settings.bulk_expire_after_s),
    )
