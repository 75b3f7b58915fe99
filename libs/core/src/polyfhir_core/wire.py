"""JSON encoding of the services' contract types for their internal APIs.

pydantic's TypeAdapter reads and writes the contract's dataclasses directly,
so the HTTP topology carries exactly the objects the in-process topology
passes around (see ``polyfhir_core.contracts.contract``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from pydantic import TypeAdapter


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
