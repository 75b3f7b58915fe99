"""Gateway settings (``POLYFHIR_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLYFHIR_", extra="ignore")

    primary_store_url: str | None = Field(
        default=None, description="http://host:port of a separate primary-store service"
    )
    config_file: str | None = Field(
        default=None,
        description="composite config (TOML/YAML/JSON); unset: the primary answers everything",
    )
    base_url: str | None = Field(
        default=None, description="public FHIR base URL; derived from each request when unset"
    )
    default_tenant: str = "default"
    tenant_header: str = "X-Tenant-ID"
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_bundle_entries: int = Field(default=1000, ge=1)
    default_count: int = Field(default=20, ge=1)
    max_count: int = Field(default=1000, ge=1)
    access_log: bool = True
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8080
