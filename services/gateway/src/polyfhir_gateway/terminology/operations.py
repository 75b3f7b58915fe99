"""Which terminology index answers the operations, and what its errors become.

The operations need a terminology index: the client of the configured
``terminology`` backend (the terminology-indexer service), or an index plugged
in as ``fallback`` (an in-process implementation, wired in bootstrap) used
when no backend is configured or the configured one is unusable. Without
either, or with the backend unhealthy and no fallback, an operation is a 503
OperationOutcome naming what is missing.

The service's errors pass through (``NotFound`` 404, ``NotSupported`` 400);
an expansion over the service's size limit (``QueryTooComplex``) becomes a 400
with the issue code ``too-costly``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from polyfhir_core.contracts.terminology import TerminologyIndex
from polyfhir_core.errors import NotSupported, QueryTooComplex, ServiceUnavailable
from polyfhir_gateway.pipeline.health import HealthMonitor

T = TypeVar("T")
FALLBACK_ROUTE = "terminology-fallback"
"""The route header's name for the in-process fallback index."""


class ExpansionTooCostly(NotSupported):
    code = "too-costly"


class TerminologyOperations:
    """``index``: the client of backend ``backend_id`` (both or neither)."""

    def __init__(
        self,
        index: TerminologyIndex | None,
        backend_id: str | None,
        monitor: HealthMonitor | None,
        fallback: TerminologyIndex | None = None,
    ) -> None:
        self.index, self.backend_id, self.monitor = index, backend_id, monitor
        self.fallback = fallback

    @property
    def available(self) -> bool:
        """Is any index wired (the CapabilityStatement lists the operations then)?"""
        return self.index is not None or self.fallback is not None

    def _index(self) -> tuple[TerminologyIndex, str]:
        """The index to ask and its name for the route header."""
        if self.index is not None and self.backend_id is not None:
            state = self.monitor.state(self.backend_id) if self.monitor is not None else None
            if state is None or state.usable:
                return self.index, self.backend_id
            if self.fallback is None:
                raise ServiceUnavailable(
                    f"the terminology backend {self.backend_id} is {state.value}: "
                    "the terminology operations cannot be answered"
                )
        if self.fallback is not None:
            return self.fallback, FALLBACK_ROUTE
        raise ServiceUnavailable(
            "no terminology backend is configured (a backend with role terminology and "
            "options.service_url, the terminology-indexer): the terminology operations "
            "cannot be answered"
        )

    async def call(self, ask: Callable[[TerminologyIndex], Awaitable[T]]) -> tuple[T, str]:
        """``ask`` the usable index; its answer and the name of who answered."""
        index, route = self._index()
        try:
            return await ask(index), route
        except QueryTooComplex as exc:
            raise ExpansionTooCostly(str(exc)) from exc
