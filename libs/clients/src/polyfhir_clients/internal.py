"""What every internal-API client shares: one POST per contract call, errors as FhirError.

A service serves its contract at ``POST <base><prefix>/{call}`` with a JSON body;
results are decoded with ``polyfhir_core.wire`` into the contract's types. A
transport failure is ``ServiceUnavailable``; an OperationOutcome answer is
re-raised as the same ``FhirError`` subclass the service raised (a 500 stays a
500: a bug is never reported as a transient 503).
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from polyfhir_core import wire
from polyfhir_core.errors import FhirError, Issue, ServiceUnavailable, operation_outcome

_TRANSIENT_STATUSES = frozenset({502, 503, 504})


class InternalClient:
    def __init__(
        self,
        base_url: str,
        prefix: str,
        service: str,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._prefix = prefix
        self._service = service
        self._timeout = timeout
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def _post(
        self, name: str, body: dict[str, Any], result_type: Any, wait_s: float | None = None
    ) -> Any:
        try:
            response = await self._client.post(
                f"{self._base}{self._prefix}/{name}",
                content=orjson.dumps(body),
                headers={"content-type": "application/json"},
                timeout=wait_s if wait_s is not None else self._timeout,
            )
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"{self._service} unreachable: {exc}") from exc
        try:
            data = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            data = None
        if response.status_code >= 400:
            if isinstance(data, dict) and data.get("resourceType") == "OperationOutcome":
                raise FhirError.from_outcome(response.status_code, data)
            raise self._bare_error(response.status_code)
        return wire.load(result_type, data)

    def _bare_error(self, status: int) -> FhirError:
        """An error answer without an OperationOutcome: only a gateway-ish 502/503/504 is
        transient; anything else is a bug and stays a 500, never a 503 telling clients
        to retry it."""
        if status in _TRANSIENT_STATUSES:
            return ServiceUnavailable(f"{self._service} answered {status}")
        message = f"{self._service} answered {status} without an OperationOutcome (a bug)"
        return FhirError.from_outcome(500, operation_outcome([Issue("exception", message)]))

    async def check_ready(self) -> None:
        try:
            response = await self._client.get(f"{self._base}/readyz")
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"{self._service} unreachable: {exc}") from exc
        if response.status_code != 200:
            raise ServiceUnavailable(f"{self._service} not ready: {response.text}")

    async def close(self) -> None:
        await self._client.aclose()
