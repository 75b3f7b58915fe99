"""The client side of a service contract: a proxy that honours the Protocol, with no
per-method code.

``contract_client(PRIMARY_STORE, base_url, http)`` returns a ``PrimaryStore``
whose every call is ``POST <base_url><path>/<call>`` (see
``polyfhir_servicekit.contract_server``). Errors come back as what the service
raised: an OperationOutcome answer is re-raised as the same ``FhirError``
subclass; a transport failure, or an answer that is not an OperationOutcome,
is ``ServiceUnavailable``. The bytes travel through a
:class:`~polyfhir_servicekit.transports.Transport`: aiohttp between processes, or
any ``httpx.AsyncClient`` (the tests' ASGI transport). A call with a ``timeout_ms``
argument waits server-side: its HTTP timeout is extended to cover that wait
(:func:`http_timeout`). ``check_ready`` is ``GET <base_url>/readyz``.

:class:`ServiceClients` owns the one transport (an aiohttp session) a process uses
for every contract client it holds; closing it closes them all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, TypeVar, cast

import httpx
import orjson

from polyfhir_core import wire
from polyfhir_core.contracts.contract import WAIT_PARAMETER, Call, Contract
from polyfhir_core.errors import FhirError, Issue, ServiceUnavailable, operation_outcome
from polyfhir_servicekit.transports import (
    AiohttpTransport,
    HttpxTransport,
    Transport,
    TransportFailed,
)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
WAIT_GRACE_S = 5.0
"""On top of a call's own ``timeout_ms``: the round trip after the server-side wait."""


def http_timeout(arguments: dict[str, Any], default_s: float) -> float:
    """The HTTP timeout of one call: ``default_s``, or for a waiting call (one with a
    ``timeout_ms`` argument) enough to cover that wait plus :data:`WAIT_GRACE_S`."""
    wait_ms = arguments.get(WAIT_PARAMETER)
    if isinstance(wait_ms, int) and not isinstance(wait_ms, bool):
        return max(default_s, wait_ms / 1000 + WAIT_GRACE_S)
    return default_s


class ContractClient:
    """The state every proxy shares; a subclass per contract adds one method per call."""

    contract: Contract[Any]

    def __init__(self, base_url: str, transport: Transport, timeout: float) -> None:
        self._base = base_url.rstrip("/")
        self._transport = transport
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._base!r})"

    async def _invoke(self, call: Call, arguments: dict[str, Any]) -> Any:
        body = {p.name: wire.dump(p.kind, arguments[p.name]) for p in call.parameters}
        try:
            status, content = await self._transport.post(
                f"{self._base}{self.contract.path}/{call.name}",
                orjson.dumps(body),
                http_timeout(arguments, self._timeout),
            )
        except TransportFailed as exc:
            raise ServiceUnavailable(f"{self.contract.service} unreachable: {exc}") from exc
        if status >= 400:
            raise _error(self.contract.service, status, content)
        return wire.load(call.result, orjson.loads(content))

    async def check_ready(self) -> None:
        service = self.contract.service
        try:
            status, content = await self._transport.get(f"{self._base}/readyz", self._timeout)
        except TransportFailed as exc:
            raise ServiceUnavailable(f"{service} unreachable: {exc}") from exc
        if status != 200:
            raise ServiceUnavailable(f"{service} not ready: {content.decode(errors='replace')}")


_TRANSIENT_STATUSES = frozenset({502, 503, 504})


def _error(service: str, status: int, content: bytes) -> Exception:
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and data.get("resourceType") == "OperationOutcome":
        return FhirError.from_outcome(status, data)
    if status in _TRANSIENT_STATUSES:
        return ServiceUnavailable(f"{service} answered {status}")
    # anything else without an OperationOutcome is a bug: it stays a 500, never a 503
    # telling clients to retry it (docs/errors.md)
    message = f"{service} answered {status} without an OperationOutcome (a bug)"
    return FhirError.from_outcome(500, operation_outcome([Issue("exception", message)]))


def _method(call: Call) -> Callable[..., Awaitable[Any]]:
    async def method(self: ContractClient, *args: Any, **kwargs: Any) -> Any:
        bound = call.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return await self._invoke(call, dict(bound.arguments))

    method.__name__ = method.__qualname__ = call.name
    return method


@cache
def proxy_class(contract: Contract[Any]) -> type[ContractClient]:
    """The proxy class of a contract: one method per call, built once."""
    methods: dict[str, Any] = {name: _method(call) for name, call in contract.calls.items()}
    methods["contract"] = contract
    name = f"{contract.protocol.__name__}Client"
    return type(name, (ContractClient,), methods)


def contract_client(
    contract: Contract[T],
    base_url: str,
    http: httpx.AsyncClient | Transport,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> T:
    """A ``T`` whose calls go to the service at ``base_url`` through ``http`` (an httpx
    client or a transport the caller owns and closes); ``timeout`` is the HTTP timeout
    of a call that does not wait."""
    transport = HttpxTransport(http) if isinstance(http, httpx.AsyncClient) else http
    return cast(T, proxy_class(contract)(base_url, transport, timeout))


class ServiceClients:
    """The contract clients of one process, sharing one connection pool."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self._timeout = timeout
        self.transport: Transport = AiohttpTransport()

    def connect(self, contract: Contract[T], base_url: str, timeout: float | None = None) -> T:
        """A client of ``contract`` at ``base_url``; ``timeout``: this client's HTTP
        timeout of a call that does not wait (default: the one given to the pool)."""
        return contract_client(contract, base_url, self.transport, timeout or self._timeout)

    async def close(self) -> None:
        await self.transport.close()
