"""What every internal-API client shares: one POST per contract call, errors as FhirError.

A service serves its contract at ``POST <base><prefix>/{call}`` with a JSON body;
results are decoded with ``polyfhir_core.wire`` into the contract's types. A
transport failure is ``ServiceUnavailable``; an OperationOutcome answer is
re-raised as the same ``FhirError`` subclass the service raised.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from polyfhir_core import wire
from polyfhir_core.errors import FhirError, ServiceUnavailable


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
            raise ServiceUnavailable(f"{self._service} answered {response.status_code}")
        return wire.load(result_type, data)

    async def check_ready(self) -> None:
        try:
            response = await self._client.get(f"{self._base}/readyz")
        except httpx.TransportError as exc:
            raise ServiceUnavailable(f"{self._service} unreachable: {exc}") from exc
        if response.status_code != 200:
            raise ServiceUnavailable(f"{self._service} not ready: {response.text}")

    async def close(self) -> None:
        await self._client.aclose()
