"""How the health monitor decides a backend is up or down."""

from __future__ import annotations

from typing import Self

from pydantic import PositiveInt, model_validator

from polyfhir_core.config._model import ConfigModel


class _HealthFields(ConfigModel):
    check_interval_ms: PositiveInt = 5_000
    timeout_ms: PositiveInt = 2_000
    failure_threshold: PositiveInt = 3
    success_threshold: PositiveInt = 2


class HealthOverride(_HealthFields):
    """A backend's health settings: only the fields it sets replace the composite's.

    Cross-field rules are checked on the combination, not on the override alone.
    """


class HealthConfig(_HealthFields):
    """Periodic checks with hysteresis.

    A backend becomes unhealthy after ``failure_threshold`` consecutive failed
    checks and healthy again after ``success_threshold`` consecutive successes.
    An unhealthy secondary is bypassed (its queries go to the fallback).
    """

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> Self:
        if self.timeout_ms > self.check_interval_ms:
            msg = (
                f"timeout_ms ({self.timeout_ms}) must not exceed "
                f"check_interval_ms ({self.check_interval_ms}): checks would overlap"
            )
            raise ValueError(msg)
        return self

    @property
    def detection_time_ms(self) -> int:
        """Worst case from a backend failing to the monitor declaring it unhealthy."""
        return self.failure_threshold * self.check_interval_ms + self.timeout_ms
