"""An ``$import`` kick-off: a Parameters resource (the bulk-submit/import shape) with
``inputFormat`` and ``input`` parts ``{type, url}``.

Inputs are read by the gateway: ``file://`` under the configured import folder only
(``POLYFHIR_BULK_IMPORT_DIR``; unset: no file inputs), ``http(s)://``, and ``s3://``
when the bulk storage is S3. Anything else is a 400 at the kick-off.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from polyfhir_core.errors import BadRequest
from polyfhir_core.resource_validation import RESOURCE_TYPES
from polyfhir_core.resources import format_instant, parse_instant
from polyfhir_gateway.bulk.export_request import OUTPUT_FORMATS


@dataclass(frozen=True, slots=True)
class ImportInput:
    type: str
    url: str


@dataclass(frozen=True, slots=True)
class ImportRequest:
    request: str
    transaction_time: datetime
    inputs: list[ImportInput] = field(default_factory=list)

    def params(self) -> dict[str, Any]:
        out = asdict(self)
        out["transaction_time"] = format_instant(self.transaction_time)
        return out

    @classmethod
    def of(cls, params: dict[str, Any]) -> ImportRequest:
        return cls(
            request=params["request"],
            transaction_time=parse_instant(params["transaction_time"]),
            inputs=[ImportInput(**i) for i in params["inputs"]],
        )


def _value(part: dict[str, Any]) -> str | None:
    for key, value in part.items():
        if key.startswith("value") and isinstance(value, str):
            return value
    return None


def _input(param: dict[str, Any]) -> ImportInput:
    parts = {p.get("name"): _value(p) for p in param.get("part") or [] if isinstance(p, dict)}
    rtype, url = parts.get("type"), parts.get("url")
    if not rtype or rtype not in RESOURCE_TYPES:
        raise BadRequest(f"$import input type {rtype!r} is not a resource type")
    if not url:
        raise BadRequest(f"$import input of {rtype} has no url")
    return ImportInput(rtype, url)


def file_input_path(url: str, allowed: str | None) -> Path:
    """The local file of a ``file://`` input, refused outside the allowed folder."""
    if not allowed:
        raise BadRequest("file:// inputs are disabled (POLYFHIR_BULK_IMPORT_DIR is unset)")
    path = Path(unquote(urlparse(url).path)).resolve()
    root = Path(allowed).resolve()
    if not path.is_relative_to(root):
        raise BadRequest(f"{url} is outside the folder $import may read")
    return path


def check_input_url(url: str, allowed_dir: str | None, s3: bool) -> None:
    scheme = urlparse(url).scheme
    if scheme == "file":
        path = file_input_path(url, allowed_dir)
        if not path.is_file():
            raise BadRequest(f"{url} is not a file")
    elif scheme == "s3" and not s3:
        raise BadRequest("s3:// inputs need the S3 bulk storage (POLYFHIR_BULK_STORAGE=s3)")
    elif scheme not in ("http", "https", "s3"):
        raise BadRequest(f"$import reads file://, http(s):// or s3:// inputs, not {url!r}")


def read_import_request(
    body: Any, *, request: str, now: datetime, allowed_dir: str | None, s3: bool
) -> ImportRequest:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("$import takes a Parameters resource")
    inputs: list[ImportInput] = []
    for param in body.get("parameter") or []:
        if not isinstance(param, dict):
            raise BadRequest("every Parameters.parameter must be an object")
        name = param.get("name")
        if name == "inputFormat":
            fmt = _value(param)
            if fmt not in OUTPUT_FORMATS:
                raise BadRequest(f"inputFormat {fmt!r}: only application/fhir+ndjson")
        elif name == "input":
            inputs.append(_input(param))
    if not inputs:
        raise BadRequest("$import needs at least one input {type, url}")
    for item in inputs:
        check_input_url(item.url, allowed_dir, s3)
    return ImportRequest(request, now, inputs)
