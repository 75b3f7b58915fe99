"""Gateway settings (``POLYFHIR_*`` environment variables)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from polyfhir_gateway.fairshare.limits import TenantLimitsTable, parse_tenant_limits
from polyfhir_servicekit.workers import workers_field


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLYFHIR_", extra="ignore")

    primary_store_url: str | None = Field(
        default=None, description="http://host:port of a separate primary-store service"
    )
    primary_store_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="HTTP timeout of one call to a separate primary-store service; a large"
        " write (ICD-10-CM as one CodeSystem: ~600,000 closure rows) takes 20-30 s on"
        " PostgreSQL here",
    )
    config_file: str | None = Field(
        default=None,
        description="composite config (TOML/YAML/JSON); unset: the primary answers everything",
    )
    base_url: str | None = Field(
        default=None, description="public FHIR base URL; derived from each request when unset"
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="addresses/networks of reverse proxies (comma-separated, or *) whose"
        " X-Forwarded-Proto/-Host/-Prefix/-For are applied; empty: none are trusted",
    )
    default_tenant: str = "default"
    tenant_header: str = "X-Tenant-ID"
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_bundle_entries: int = Field(default=1000, ge=1)
    default_count: int = Field(default=20, ge=1)
    max_count: int = Field(default=1000, ge=1)
    access_log: bool = True
    job_heartbeat_s: float = Field(
        default=10.0, gt=0, description="how often a running job's heartbeat is saved"
    )
    job_stale_after_s: float = Field(
        default=60.0,
        gt=0,
        description="a running job whose heartbeat is older was left by a dead process: it is"
        " resumed (resumable kinds) or marked failed; must exceed job_heartbeat_s",
    )
    bulk_output_dir: str = Field(
        default="data/bulk",
        description="where $export files are kept (bulk_storage=local), one folder per job",
    )
    bulk_storage: Literal["local", "s3"] = Field(
        default="local", description="where $export files go: a local folder or an S3 bucket"
    )
    bulk_s3_bucket: str | None = None
    bulk_s3_endpoint_url: str | None = Field(
        default=None, description="an S3-compatible endpoint (MinIO, SeaweedFS); unset: AWS"
    )
    bulk_s3_region: str = "us-east-1"
    bulk_s3_access_key_id: str | None = None
    bulk_s3_secret_access_key: SecretStr | None = None
    bulk_s3_prefix: str = "polyfhir-bulk"
    bulk_s3_presign_s: int | None = Field(
        default=None,
        ge=60,
        description="hand out presigned URLs valid this long; unset: files stream via the gateway",
    )
    bulk_file_max_resources: int = Field(
        default=100_000, ge=1, description="an NDJSON file closes after this many resources"
    )
    bulk_file_max_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="... or after this many bytes"
    )
    bulk_page_size: int = Field(default=1000, ge=1, le=5000)
    tenant_delete_batch: int = Field(
        default=2000,
        ge=1,
        le=50_000,
        description="rows removed per primary transaction when a tenant is deleted",
    )
    bulk_max_jobs_per_tenant: int = Field(
        default=2, ge=1, description="running $export/$import jobs per tenant; more get 429"
    )
    bulk_retry_after_s: int = Field(default=5, ge=1)
    bulk_expire_after_s: float = Field(
        default=24 * 3600.0, gt=0, description="a finished export's files are removed then"
    )
    bulk_import_batch: int = Field(
        default=200, ge=1, le=5000, description="$import lines written per transaction"
    )
    bulk_import_dir: str | None = Field(
        default=None, description="file:// inputs of $import must lie under this folder"
    )
    # -- response compression (docs/operations.md) ---------------------------------------
    gzip_min_bytes: int = Field(
        default=1024,
        ge=0,
        description="answers at least this large are gzip-compressed for clients that send "
        "Accept-Encoding: gzip; smaller ones are sent as they are",
    )
    gzip_level: int = Field(
        default=1,
        ge=0,
        le=9,
        description="gzip compresslevel (1: fastest, most of the size gain for FHIR JSON; "
        "0: never compress)",
    )
    # -- fair share (docs/tenancy.md) -------------------------------------------------------
    tenant_limits: Annotated[TenantLimitsTable, NoDecode, BeforeValidator(parse_tenant_limits)] = (
        Field(
            default_factory=TenantLimitsTable,
            description='per-tenant limits: JSON {"default": {...}, "<tenant>": {...}} or the path'
            " of a JSON file; unset: no limits",
        )
    )
    tenant_metrics_max: int = Field(
        default=100, ge=1, description="tenant label values in fair-share metrics; then `other`"
    )
    max_in_flight: int | None = Field(
        default=None,
        ge=1,
        description="requests of tenants a replica runs at once; the rest wait, served a"
        " budget at a time in turn (fair queuing); unset: no bound",
    )
    queue_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="how long a request waits for one of the max_in_flight slots before 503",
    )
    heavy_search_complexity: int = Field(
        default=8, ge=1, description="a search of at least this complexity score is heavy"
    )
    heavy_search_include_count: int = Field(
        default=100, ge=1, description="_include/_revinclude with a larger _count is heavy"
    )
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = workers_field()

    # -- security (docs/security.md) ---------------------------------------------------
    auth: Literal["off", "dev", "jwks"] = Field(
        default="off",
        description="off: no tokens, tenant from the header (local development only); "
        "dev: tokens from the development issuer (`polyfhir token`); jwks: a real issuer",
    )
    auth_issuer: str | None = Field(default=None, description="expected `iss` (jwks mode)")
    auth_audience: str | None = Field(
        default=None, description="expected `aud`; unset: the FHIR base URL is not checked"
    )
    auth_jwks_url: str | None = Field(default=None, description="the issuer's JWKS (jwks mode)")
    auth_jwks_file: str | None = Field(default=None, description="a JWKS file instead of a URL")
    auth_jwks_cache_seconds: int = Field(default=300, ge=0)
    auth_algorithms: list[str] = Field(default=["RS256", "ES256", "RS384", "ES384", "PS256"])
    auth_leeway_seconds: int = Field(default=30, ge=0, le=300)
    auth_tenant_claim: str = Field(default="tenant", description="the claim naming the tenant")
    auth_admin_scope: str = Field(default="system/admin", description="grants /admin/*")
    auth_dev_dir: str = Field(
        default="./data/dev-issuer", description="where dev mode keeps its issuer key"
    )
    auth_authorize_url: str | None = Field(
        default=None, description="the issuer's authorization endpoint (smart-configuration)"
    )
    auth_token_url: str | None = Field(
        default=None, description="the issuer's token endpoint (smart-configuration)"
    )
    admin_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="serve /admin and /metrics on this internal port only (unset: the main port)",
    )

    def admin_ports(self, port: int) -> tuple[int, ...]:
        """The ports served beside the main ``port``: the admin port, when it is another."""
        return () if self.admin_port in (None, port) else (self.admin_port,)

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Self:
        if self.bulk_storage == "s3" and not self.bulk_s3_bucket:
            raise ValueError("POLYFHIR_BULK_STORAGE=s3 needs POLYFHIR_BULK_S3_BUCKET")
        return self

    @model_validator(mode="after")
    def _jobs_heartbeat_within_stale_limit(self) -> Self:
        if self.job_stale_after_s <= self.job_heartbeat_s:
            raise ValueError(
                "POLYFHIR_JOB_STALE_AFTER_S must exceed POLYFHIR_JOB_HEARTBEAT_S"
                " (else a live job looks abandoned)"
            )
        return self
