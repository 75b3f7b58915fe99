"""A service contract derived from its Protocol: the call catalogue both sides share.

A service's Protocol (``PrimaryStore``, ``SearchIndex``) is the single source of
its internal API. :class:`Contract` names the Protocol and the URL path it is
served under; its :attr:`Contract.calls` are derived once from the Protocol's
methods with ``typing.get_type_hints``:

- a **call** is a public ``async def`` whose first parameter is
  ``ctx: TenantContext`` (every call is bound to one tenant);
- ``check_ready()`` is the readiness probe, served as ``GET /readyz``, not a call;
- any other public ``async def`` is a definition error (``TypeError``), so a
  method cannot silently fall out of the wire API.

The server (``polyfhir_servicekit.contract_server``) serves each call at
``POST <path>/<name>`` with a JSON object of its arguments by name (encoded with
``polyfhir_core.wire``); the client (``polyfhir_servicekit.contract_client``)
is a proxy built from the same catalogue. Adding a Protocol method is all a new
call needs.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar, get_type_hints

from polyfhir_core.tenancy import TenantContext

T = TypeVar("T")

PROBES = frozenset({"check_ready"})
"""Protocol methods that are not calls: the readiness probe every service has."""

SCOPE_PARAMETER = "ctx"
WAIT_PARAMETER = "timeout_ms"
"""A call with this argument waits server-side that long: its HTTP timeout grows with it."""


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    kind: Any  # the annotation, resolved
    default: Any = inspect.Parameter.empty

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


@dataclass(frozen=True, slots=True)
class Call:
    """One remote call: its parameters in order (``ctx`` first) and its result type."""

    name: str
    parameters: tuple[Parameter, ...]
    result: Any
    signature: inspect.Signature  # without ``self``: binds a caller's arguments

    @property
    def waits(self) -> bool:
        return any(p.name == WAIT_PARAMETER for p in self.parameters)


class Contract(Generic[T]):
    """The Protocol ``T`` served under ``path`` by ``service`` (a name for messages).

    Declared once beside the Protocol, with ``T`` spelled out:
    ``PRIMARY_STORE = Contract[PrimaryStore](PrimaryStore, "/internal/v1/store", "primary store")``
    (mypy refuses a Protocol class where ``type[T]`` is expected, hence the explicit ``T``).
    """

    def __init__(self, protocol: type, path: str, service: str) -> None:
        self.protocol = protocol
        self.path = path.rstrip("/")
        self.service = service

    @cached_property
    def calls(self) -> Mapping[str, Call]:
        return derive_calls(self.protocol)

    def __repr__(self) -> str:
        return f"Contract({self.protocol.__name__}, {self.path!r})"


def derive_calls(protocol: type) -> dict[str, Call]:
    """The catalogue of ``protocol`` (see the module docstring for the rule)."""
    calls: dict[str, Call] = {}
    for name, method in inspect.getmembers(protocol, inspect.iscoroutinefunction):
        if name.startswith("_") or name in PROBES:
            continue
        calls[name] = _call(protocol, name, method)
    return calls


def _call(protocol: type, name: str, method: Any) -> Call:
    hints = get_type_hints(method)
    signature = inspect.signature(method)
    params = list(signature.parameters.values())[1:]  # drop self
    if not params or params[0].name != SCOPE_PARAMETER or hints.get("ctx") is not TenantContext:
        raise TypeError(
            f"{protocol.__name__}.{name}: a contract call takes `ctx: TenantContext` first "
            f"(or is one of the probes {sorted(PROBES)})"
        )
    missing = [p.name for p in params if p.name not in hints] + (
        ["return"] if "return" not in hints else []
    )
    if missing:
        raise TypeError(f"{protocol.__name__}.{name}: unannotated {missing}")
    return Call(
        name=name,
        parameters=tuple(Parameter(p.name, hints[p.name], p.default) for p in params),
        result=hints["return"],
        signature=signature.replace(parameters=params),
    )
