"""Fair-share metrics. ``tenant`` is a label: beyond ``POLYFHIR_TENANT_METRICS_MAX`` distinct
budgets the rest are reported as ``other`` (a label value per tenant is a time series each)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

OTHER = "other"

THROTTLED = Counter(
    "polyfhir_tenant_throttled_total",
    "Requests answered 429 by fair share, per tenant budget and the limit hit (rate, heavy, jobs)",
    ["tenant", "limit"],
)
HEAVY_IN_FLIGHT = Gauge(
    "polyfhir_tenant_heavy_in_flight",
    "Heavy requests (costly searches, bundles, $everything, job kick-offs) running now,"
    " per tenant budget",
    ["tenant"],
)

QUEUED = Gauge(
    "polyfhir_tenant_queued",
    "Requests waiting for one of the replica's POLYFHIR_MAX_IN_FLIGHT slots, per tenant budget",
    ["tenant"],
)


class TenantLabels:
    """The label of a budget: its own key for the first ``limit`` seen, then ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._known: set[str] = set()

    def __call__(self, key: str) -> str:
        if key in self._known:
            return key
        if len(self._known) < self.limit:
            self._known.add(key)
            return key
        return OTHER
