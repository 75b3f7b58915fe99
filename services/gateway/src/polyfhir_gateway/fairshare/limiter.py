"""The per-replica fair-share state: a token bucket and a heavy-work count per budget."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from polyfhir_core.tenancy import TenantId
from polyfhir_gateway.fairshare.limits import TenantLimits, TenantLimitsTable
from polyfhir_gateway.fairshare.metrics import HEAVY_IN_FLIGHT, THROTTLED, TenantLabels
from polyfhir_gateway.fairshare.token_bucket import Clock, TokenBucket

# Idle (full) buckets are forgotten once there are this many (a full bucket equals a new one).
_SWEEP_ABOVE = 10_000


class Limit(StrEnum):
    RATE = "rate"
    HEAVY = "heavy"
    JOBS = "jobs"


@dataclass(frozen=True, slots=True)
class Throttled:
    """Why a request is refused and when to come back."""

    limit: Limit
    retry_after_s: int
    message: str


@dataclass(frozen=True, slots=True)
class Budget:
    key: str
    limits: TenantLimits
    label: str


class FairShare:
    """Admission per tenant budget (docs/tenancy.md, "Fair share")."""

    def __init__(
        self,
        table: TenantLimitsTable,
        metrics_max_tenants: int = 100,
        clock: Clock = time.monotonic,
    ) -> None:
        self.table = table
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._heavy: dict[str, int] = {}
        self._labels = TenantLabels(metrics_max_tenants)
        self._sweep_at = _SWEEP_ABOVE

    def budget(self, tenant: TenantId) -> Budget:
        key, limits = self.table.budget_for(tenant)
        return Budget(key, limits, self._labels(key))

    def take_token(self, budget: Budget) -> Throttled | None:
        """Spend one request of the budget's rate, or say how long to wait."""
        rate = budget.limits.rate
        if rate is None:
            return None
        bucket = self._buckets.get(budget.key)
        if bucket is None:
            if len(self._buckets) >= self._sweep_at:
                self._forget_idle_buckets()
            bucket = TokenBucket(rate, budget.limits.bucket_size, self._clock)
            self._buckets[budget.key] = bucket
        if bucket.try_take():
            return None
        return self._refused(
            budget,
            Limit.RATE,
            bucket.retry_after_s(),
            f"tenant {budget.key} is over its request rate ({rate:g}/s, burst"
            f" {budget.limits.bucket_size:g})",
        )

    def enter_heavy(self, budget: Budget) -> Throttled | None:
        """Take a heavy-work slot (give it back with :meth:`leave_heavy`), or refuse."""
        running = self._heavy.get(budget.key, 0)
        bound = budget.limits.max_heavy
        if bound is not None and running >= bound:
            return self._refused(
                budget,
                Limit.HEAVY,
                budget.limits.retry_after_s,
                f"tenant {budget.key} already runs {running} heavy requests (the limit is {bound})",
            )
        self._heavy[budget.key] = running + 1
        HEAVY_IN_FLIGHT.labels(budget.label).inc()
        return None

    def leave_heavy(self, budget: Budget) -> None:
        left = self._heavy.get(budget.key, 1) - 1
        if left > 0:
            self._heavy[budget.key] = left
        else:
            self._heavy.pop(budget.key, None)
        HEAVY_IN_FLIGHT.labels(budget.label).dec()

    def heavy_in_flight(self, budget: Budget) -> int:
        return self._heavy.get(budget.key, 0)

    def check_jobs(self, budget: Budget, running: int) -> Throttled | None:
        """A job kick-off while the budget already has ``running`` jobs."""
        bound = budget.limits.max_jobs
        if bound is None or running < bound:
            return None
        return self._refused(
            budget,
            Limit.JOBS,
            budget.limits.retry_after_s,
            f"tenant {budget.key} already runs {running} jobs (the limit is {bound});"
            " retry when one has finished",
        )

    def _refused(self, budget: Budget, limit: Limit, retry: int, message: str) -> Throttled:
        THROTTLED.labels(budget.label, limit.value).inc()
        return Throttled(limit, retry, message)

    def _forget_idle_buckets(self) -> None:
        """Drop full buckets; sweep again when the dict has doubled (not on every insert)."""
        for key in [k for k, bucket in self._buckets.items() if bucket.full]:
            del self._buckets[key]
        self._sweep_at = max(_SWEEP_ABOVE, 2 * len(self._buckets))

    @property
    def buckets(self) -> int:
        """Budgets with a bucket held in memory now."""
        return len(self._buckets)
