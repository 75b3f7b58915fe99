"""JSON encoding of the store contract for internal service APIs.

pydantic's TypeAdapter reads and writes the contract's dataclasses directly,
so the HTTP topology carries exactly the objects the in-process topology
passes around.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from polyfhir_core.errors import BadRequest, NotFound


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def dump(kind: Any, value: Any) -> Any:
    """Plain JSON-compatible Python for ``value`` of type ``kind``."""
    return _adapter(kind).dump_python(value, mode="json")


def load(kind: Any, data: Any) -> Any:
    return _adapter(kind).validate_python(data)


def dumps(kind: Any, value: Any) -> bytes:
    return orjson.dumps(dump(kind, value))


def loads(kind: Any, data: bytes) -> Any:
    return load(kind, orjson.loads(data))


async def answer_call(
    calls: Mapping[str, tuple[dict[str, Any], Any]],
    target: object,
    name: str,
    raw: bytes,
    scope: tuple[str, Any],
) -> Any:
    """Serve one internal call: decode ``{<scope field>: ..., "args": {...}}`` with the
    contract's types, call ``target.<name>(scope, **args)``, encode the result.

    ``scope`` names the body field that binds the call (``("ctx", TenantContext)``
    for the store, ``("tenant", NonEmptyStr)`` for a secondary) and its type.
    An unknown call is NotFound; a body that does not fit is BadRequest.
    """
    if name not in calls:
        raise NotFound(f"no internal call {name!r}")
    arg_types, result_type = calls[name]
    field, scope_type = scope
    try:
        body = orjson.loads(raw)
        bound = load(scope_type, body[field])
        args = {k: load(t, body["args"][k]) for k, t in arg_types.items()}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
        raise BadRequest(f"malformed internal call {name}: {exc}") from exc
    result = await getattr(target, name)(bound, **args)
    return dump(result_type, result)
