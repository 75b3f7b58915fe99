"""FHIR JSON in and out: media types, body parsing, responses."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Any

import orjson
from fastapi import Request, Response

from polyfhir_core.errors import BadRequest, NotAcceptable, PayloadTooLarge, UnsupportedMediaType
from polyfhir_core.input_limits import check_json_depth

FHIR_JSON = "application/fhir+json"
_JSON_TYPES = {FHIR_JSON, "application/json", "application/json+fhir", "text/json"}
_FORMATS = {"json", "application/json", FHIR_JSON, "application/json+fhir"}


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_accept(request: Request) -> None:
    fmt = request.query_params.get("_format")
    if fmt is not None and fmt.lower() not in _FORMATS:
        raise NotAcceptable(f"_format {fmt!r} is not supported; this server speaks JSON only")
    accept = request.headers.get("accept", "")
    if not accept:
        return
    if any(acceptable_media_range(part) for part in accept.split(",")):
        return
    raise NotAcceptable(
        f"cannot produce {accept!r}; this server speaks {FHIR_JSON} (fhirVersion=4.0)"
    )


def acceptable_media_range(media_range: str) -> bool:
    """One ``Accept`` media range this server can answer: JSON, FHIR R4 if it names a version.

    ``fhirVersion`` is the mime-type parameter of http.html#version: 4.0 (or 4.0.x) is R4;
    any other version makes the range unacceptable.
    """
    kind, *params = (piece.strip() for piece in media_range.split(";"))
    if kind.lower() not in _JSON_TYPES | {"*/*", "application/*"}:
        return False
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "fhirversion" and not _is_r4(value.strip().strip('"')):
            return False
    return True


def _is_r4(version: str) -> bool:
    return version == "4.0" or version.startswith("4.0.")


async def read_bytes(request: Request, limit: int) -> bytes:
    """The request body, or 413 (OperationOutcome) once it exceeds ``limit`` bytes.

    The one place a body's size is checked (POLYFHIR_MAX_BODY_BYTES). Any accepted body
    becomes a change event that fits the broker: the relay compresses large events or
    sends them as claim checks (polyfhir_bus.codec), so this limit need not follow
    the broker's.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"request body of {declared} bytes exceeds the limit of {limit} bytes"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body(request: Request, limit: int, *, allowed: set[str] | None = None) -> Any:
    kind = media_type(request)
    allowed = allowed or _JSON_TYPES
    if kind and kind not in allowed:
        raise UnsupportedMediaType(f"content type {kind!r} is not supported (use {FHIR_JSON})")
    raw = await read_bytes(request, limit)
    if not raw.strip():
        raise BadRequest("the request has no body")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc
    check_json_depth(body)
    return body


def http_date(value: datetime) -> str:
    return format_datetime(value, usegmt=True)


def fhir_response(
    body: Any | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    content = orjson.dumps(body) if body is not None else b""
    response = Response(content=content, status_code=status, headers=headers or {})
    if body is not None:
        response.headers["content-type"] = f"{FHIR_JSON}; charset=utf-8"
    return response
