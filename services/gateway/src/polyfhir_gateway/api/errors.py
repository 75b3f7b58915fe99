"""Every error leaves the gateway as an OperationOutcome with the right status.

Exceptions nothing here handles (bugs) are answered by
:class:`polyfhir_servicekit.errors.UnhandledErrorMiddleware` with a 500
OperationOutcome, on a connection that stays open.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from polyfhir_core.errors import FhirError, Issue, operation_outcome
from polyfhir_gateway.api.fhir_json import fhir_response
from polyfhir_gateway.security.tokens import BearerChallenge

_HTTP_CODES = {404: "not-found", 405: "not-supported", 413: "too-costly", 415: "not-supported"}


def outcome_response(status: int, code: str, message: str) -> Response:
    return fhir_response(operation_outcome([Issue(code=code, diagnostics=message)]), status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FhirError)
    async def fhir_error(_: Request, exc: FhirError) -> Response:
        response = fhir_response(exc.outcome(), exc.status)
        if isinstance(exc, BearerChallenge):
            response.headers["WWW-Authenticate"] = exc.challenge()
        return response

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> Response:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return outcome_response(400, "invalid", f"invalid request: {details}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "invalid" if exc.status_code < 500 else "exception")
        message = "unknown path" if exc.status_code == 404 else str(exc.detail)
        response = outcome_response(exc.status_code, code, message)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response
