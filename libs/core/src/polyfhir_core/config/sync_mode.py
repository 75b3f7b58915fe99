"""How writes propagate to secondaries (SyncMode, SyncConfig) and how failures retry."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, PositiveInt, model_validator

from polyfhir_core.config._model import ConfigModel
from polyfhir_core.config.roles import BackendRole


class Asynchronous(ConfigModel):
    """A write returns once the primary committed; secondaries catch up from the event stream."""

    kind: Literal["asynchronous"] = "asynchronous"

    def waits_for(self, role: BackendRole) -> bool:
        return False


class Synchronous(ConfigModel):
    """A write returns once every enabled secondary applied it (bounded by ``timeout_ms``)."""

    kind: Literal["synchronous"] = "synchronous"

    def waits_for(self, role: BackendRole) -> bool:
        return role.is_secondary


class Hybrid(ConfigModel):
    """Search secondaries are synchronous (read-your-writes for search), the rest asynchronous."""

    kind: Literal["hybrid"] = "hybrid"
    sync_for_search: bool = True

    def waits_for(self, role: BackendRole) -> bool:
        return self.sync_for_search and role is BackendRole.SEARCH


def _mode_shorthand(value: Any) -> Any:
    """Accept ``mode = "hybrid"`` as well as ``mode = {kind = "hybrid", ...}``."""
    return {"kind": value} if isinstance(value, str) else value


SyncMode = Annotated[
    Asynchronous | Synchronous | Hybrid,
    Field(discriminator="kind"),
    BeforeValidator(_mode_shorthand),
]


class SyncConfig(ConfigModel):
    """Write propagation and read freshness for secondaries.

    ``max_read_lag_ms``: how long a read routed to a secondary may wait for it to
    reach the tenant's last committed position before falling back to the primary;
    ``0`` falls back at once, ``None`` does not check lag (stale reads accepted).
    ``timeout_ms``: the bound on a synchronous wait; ``None`` waits without bound.
    ``batch_size``: change events an indexer applies per batch.
    """

    mode: SyncMode = Field(default_factory=Asynchronous)
    max_read_lag_ms: Annotated[int, Field(ge=0)] | None = 1_000
    timeout_ms: PositiveInt | None = 5_000
    batch_size: PositiveInt = 500

    def waits_for(self, role: BackendRole) -> bool:
        """Whether a write waits for a secondary in ``role`` before returning."""
        return self.mode.waits_for(role)


class _RetryFields(ConfigModel):
    max_attempts: PositiveInt = 5
    initial_backoff_ms: PositiveInt = 100
    max_backoff_ms: PositiveInt = 10_000
    multiplier: Annotated[float, Field(ge=1.0)] = 2.0


class RetryOverride(_RetryFields):
    """A backend's retry settings: only the fields it sets replace the composite's.

    Cross-field rules are checked on the combination, not on the override alone.
    """


class RetryConfig(_RetryFields):
    """Exponential backoff for transient failures (publish, apply, secondary calls)."""

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> Self:
        if self.max_backoff_ms < self.initial_backoff_ms:
            msg = (
                f"max_backoff_ms ({self.max_backoff_ms}) must be >= "
                f"initial_backoff_ms ({self.initial_backoff_ms})"
            )
            raise ValueError(msg)
        return self

    def backoff_ms(self, attempt: int) -> int:
        """The wait after failed attempt number ``attempt`` (1-based), before any jitter."""
        if attempt < 1:
            msg = f"attempt is 1-based, got {attempt}"
            raise ValueError(msg)
        delay = self.initial_backoff_ms * self.multiplier ** (attempt - 1)
        return int(min(delay, self.max_backoff_ms))

    def delays_ms(self) -> tuple[int, ...]:
        """The waits between attempts: one fewer than ``max_attempts``."""
        return tuple(self.backoff_ms(n) for n in range(1, self.max_attempts))
