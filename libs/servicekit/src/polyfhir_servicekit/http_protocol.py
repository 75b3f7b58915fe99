"""uvicorn's HTTP/1.1 protocol, answering requests it cannot parse with an OperationOutcome.

Some requests never reach the app: uvicorn's parser (httptools, i.e. llhttp)
rejects them first and uvicorn answers a plain-text 400 "Invalid HTTP request
received." and closes the connection. llhttp knows a fixed list of methods, so
``FOO /fhir/Patient`` is one of them; control bytes in a header value
(``If-Match: W/"1"\\x01``), bytes outside the request-target grammar and a
malformed request line are others. h11 accepts an unknown method (the app
then answers 405) but rejects the same header bytes, and is several times
slower, so the services keep httptools and this subclass only changes the
answer: an unknown method is a 405 OperationOutcome (what the app answers for
a known method it does not route), anything else the parser rejects a 400
OperationOutcome. The connection is still closed, as it must be: after a parse
error the stream position is unknown.
"""

from __future__ import annotations

import sys
from http import HTTPStatus

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _outcome(code: str, message: str) -> bytes:
    issue = {"severity": "error", "code": code, "diagnostics": message}
    return orjson.dumps({"resourceType": "OperationOutcome", "issue": [issue]})


class OutcomeHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        # Called by uvicorn inside its ``except httptools.HttpParserError`` block,
        # so the parser's error is the exception being handled.
        error = sys.exc_info()[1]
        if isinstance(error, httptools.HttpParserInvalidMethodError):
            status, body = 405, _outcome("not-supported", "unknown HTTP method")
        else:
            detail = f"{msg} ({error})" if error is not None else msg
            status, body = 400, _outcome("invalid", detail)
        head = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode("ascii"),
            *(name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers),
            b"content-type: application/fhir+json; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
