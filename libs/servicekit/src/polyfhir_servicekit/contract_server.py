"""The server side of a service contract: ``POST <path>/{call}`` for every call of a Protocol.

The body is a JSON object of the call's arguments by name, each decoded with
``polyfhir_core.wire`` into the type the Protocol declares; the result is
encoded the same way. Errors travel as OperationOutcome with their HTTP status:
an unknown call is 404, a body that does not fit the call is 400, and a
``FhirError`` the implementation raises keeps its own status and code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from polyfhir_core import wire
from polyfhir_core.contracts.contract import Call, Contract
from polyfhir_core.errors import BadRequest, FhirError, NotFound

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ServedContract:
    """A contract with the object that implements it (see :func:`serve`)."""

    contract: Contract[Any]
    implementation: object


def serve(contract: Contract[T], implementation: T) -> ServedContract:
    """Pair a contract with its implementation (mypy checks that it honours the Protocol)."""
    return ServedContract(contract, implementation)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def decode_arguments(call: Call, raw: bytes) -> dict[str, Any]:
    """The call's arguments from a request body; BadRequest when they do not fit."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"call {call.name}: the body is not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise BadRequest(f"call {call.name}: the body must be a JSON object of arguments")
    unknown = sorted(set(body) - {p.name for p in call.parameters})
    if unknown:
        raise BadRequest(f"call {call.name}: unknown arguments {unknown}")
    args: dict[str, Any] = {}
    for param in call.parameters:
        if param.name not in body:
            if param.required:
                raise BadRequest(f"call {call.name}: missing argument {param.name!r}")
            args[param.name] = param.default
            continue
        try:
            args[param.name] = wire.load(param.kind, body[param.name])
        except ValidationError as exc:
            raise BadRequest(f"call {call.name}: argument {param.name!r}: {exc}") from exc
    return args


async def answer(served: ServedContract, name: str, raw: bytes) -> Any:
    """Run one call on the implementation; its result as JSON-compatible data."""
    call = served.contract.calls.get(name)
    if call is None:
        raise NotFound(f"{served.contract.service} has no call {name!r}")
    args = decode_arguments(call, raw)
    result = await getattr(served.implementation, name)(**args)
    return wire.dump(call.result, result)


def contract_route(served: ServedContract) -> Route:
    """``POST <path>/{call}`` for every call of the contract: a plain Starlette route
    (FastAPI's request handling and dependency solving were ~10 % of the primary
    store's CPU per call, for nothing this route uses)."""

    async def call(request: Request) -> Response:
        try:
            name = request.path_params["name"]
            return _json(await answer(served, name, await request.body()))
        except FhirError as exc:
            return _json(exc.outcome(), exc.status)

    return Route(f"{served.contract.path}/{{name}}", call, methods=["POST"])
