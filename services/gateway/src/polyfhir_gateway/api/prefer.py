"""The ``Prefer`` header (RFC 7240) as FHIR uses it: ``return=`` and ``handling=``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi import Request

ReturnPref = Literal["minimal", "representation", "OperationOutcome"]


@dataclass(frozen=True, slots=True)
class Prefer:
    return_: ReturnPref | None = None
    handling: Literal["strict", "lenient"] = "lenient"

    @classmethod
    def of(cls, request: Request) -> Prefer:
        ret: ReturnPref | None = None
        handling: Literal["strict", "lenient"] = "lenient"
        for header in request.headers.getlist("prefer"):
            for item in header.split(","):
                key, _, value = item.strip().partition("=")
                value = value.strip().strip('"')
                if key.strip() == "return" and value in (
                    "minimal",
                    "representation",
                    "OperationOutcome",
                ):
                    ret = value  # type: ignore[assignment]
                elif key.strip() == "handling" and value in ("strict", "lenient"):
                    handling = value  # type: ignore[assignment]
        return cls(ret, handling)
