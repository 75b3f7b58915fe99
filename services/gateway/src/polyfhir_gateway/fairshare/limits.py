"""The fair-share limits: a default and per-tenant overrides (``POLYFHIR_TENANT_LIMITS``).

An entry is a **budget**. It covers its tenant and every descendant that has no
entry of its own, and those tenants share one bucket and one heavy-work bound
(``acme/research`` spends ``acme``'s budget unless it has its own entry).
``default`` is a template instead: every tenant without an entry in its
ancestry gets its own budget with the default's numbers. An override names only
the keys it changes; the rest come from ``default``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from polyfhir_core.errors import BadRequest
from polyfhir_core.tenancy import TenantId

DEFAULT_KEY = "default"


class TenantLimits(BaseModel):
    """One budget; ``None`` means no limit of that kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float | None = Field(
        default=None, gt=0, description="requests per second refilled into the bucket"
    )
    burst: int | None = Field(
        default=None, ge=1, description="bucket size (default: max(1, 2 x rate))"
    )
    max_heavy: int | None = Field(
        default=None, ge=1, description="heavy requests (costly searches, bundles) at once"
    )
    max_jobs: int | None = Field(
        default=None,
        ge=1,
        description="running jobs (export, import, reindex, reconcile, rebuild) at a kick-off",
    )
    retry_after_s: int = Field(
        default=2, ge=1, le=3600, description="Retry-After of a refused heavy request or job"
    )

    @property
    def bucket_size(self) -> float:
        if self.burst is not None:
            return float(self.burst)
        return max(1.0, 2.0 * self.rate) if self.rate is not None else 1.0


class TenantLimitsTable(BaseModel):
    """``default`` plus overrides keyed by tenant id (validated, normalised)."""

    model_config = ConfigDict(frozen=True)

    default: TenantLimits = TenantLimits()
    overrides: dict[str, TenantLimits] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split_overrides(cls, data: Any) -> Any:
        """Accept the operator's flat form ``{"default": {...}, "acme": {...}}``."""
        if not isinstance(data, dict) or "overrides" in data:
            return data
        default = data.get(DEFAULT_KEY, {})
        overrides: dict[str, Any] = {}
        for key, partial in data.items():
            if key == DEFAULT_KEY:
                continue
            both = isinstance(partial, dict) and isinstance(default, dict)
            overrides[key] = {**default, **partial} if both else partial  # else pydantic says why
        return {"default": default, "overrides": overrides}

    @field_validator("overrides")
    @classmethod
    def _tenant_ids_are_valid(cls, overrides: dict[str, TenantLimits]) -> dict[str, TenantLimits]:
        normalised: dict[str, TenantLimits] = {}
        for key, limits in overrides.items():
            try:
                normalised[TenantId.parse(key).value] = limits
            except BadRequest as exc:
                raise ValueError(f"override {key!r}: {exc.message}") from None
        return normalised

    @property
    def enabled(self) -> bool:
        every = (self.default, *self.overrides.values())
        return any(
            limits.rate is not None or limits.max_heavy is not None or limits.max_jobs is not None
            for limits in every
        )

    def budget_for(self, tenant: TenantId) -> tuple[str, TenantLimits]:
        """The budget's key (whose bucket is spent) and its limits for ``tenant``."""
        node: TenantId | None = tenant
        while node is not None:
            found = self.overrides.get(node.value)
            if found is not None:
                return node.value, found
            node = node.parent
        return tenant.value, self.default


def parse_tenant_limits(raw: object) -> object:
    """``POLYFHIR_TENANT_LIMITS``: JSON (an object), or the path of a JSON file."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if not text:
        return {}
    if not text.startswith("{"):
        path = Path(text)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            problem = f"POLYFHIR_TENANT_LIMITS names {path}, which cannot be read: {exc}"
            raise ValueError(problem) from None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"POLYFHIR_TENANT_LIMITS is not valid JSON: {exc}") from None


def load_tenant_limits(raw: object) -> TenantLimitsTable:
    """Parse and validate (for callers outside the settings, e.g. tests and tools)."""
    try:
        return TenantLimitsTable.model_validate(parse_tenant_limits(raw))
    except ValidationError as exc:
        raise ValueError(f"POLYFHIR_TENANT_LIMITS: {exc}") from None
