"""One error root for the whole system, rendered as a FHIR OperationOutcome.

Every error a client can cause is a :class:`FhirError` with its HTTP status and
OperationOutcome issue code. Anything else that escapes is a bug (a 500).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue."""

    code: str
    diagnostics: str
    severity: str = "error"
    expression: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            out["expression"] = list(self.expression)
        return out


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}


def information(message: str, code: str = "informational") -> dict[str, Any]:
    return operation_outcome([Issue(code=code, diagnostics=message, severity="information")])


@dataclass(eq=False)
class FhirError(Exception):
    """Base of every client-visible error."""

    message: str
    issues: list[Issue] = field(default_factory=list)

    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid"

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def outcome(self) -> dict[str, Any]:
        issues = self.issues or [Issue(code=self.code, diagnostics=self.message)]
        return operation_outcome(issues)

    @classmethod
    def from_outcome(cls, status: int, outcome: dict[str, Any]) -> FhirError:
        """Rebuild an error received over the wire (internal service APIs)."""
        issues = [
            Issue(
                code=i.get("code", "exception"),
                diagnostics=i.get("diagnostics", ""),
                severity=i.get("severity", "error"),
                expression=tuple(i.get("expression", ())),
            )
            for i in outcome.get("issue", [])
        ]
        message = issues[0].diagnostics if issues else "error"
        code = issues[0].code if issues else None
        klass = next(
            (k for k in _SUBCLASSES if k.status == status and k.code == code),
            _BY_STATUS.get(status, FhirError),
        )
        err = klass(message, issues)
        if klass is FhirError:
            err.status = status  # type: ignore[misc]
        return err


class BadRequest(FhirError):
    status = 400
    code = "invalid"


class InvalidResource(FhirError):
    """The resource is not valid R4 (structure, cardinality, types)."""

    status = 400
    code = "structure"


class NotSupported(FhirError):
    status = 400
    code = "not-supported"


class Unauthorized(FhirError):
    """No valid credentials: the gateway answers with ``WWW-Authenticate: Bearer``."""

    status = 401
    code = "login"


class QueryTooComplex(NotSupported):
    """The engine refuses the statement a search compiles to (nesting, size): not retryable."""


class Forbidden(FhirError):
    status = 403
    code = "forbidden"


class NotFound(FhirError):
    status = 404
    code = "not-found"


class MethodNotAllowed(FhirError):
    status = 405
    code = "not-supported"


class NotAcceptable(FhirError):
    status = 406
    code = "not-supported"


class Conflict(FhirError):
    status = 409
    code = "conflict"


class Gone(FhirError):
    status = 410
    code = "deleted"


class PreconditionFailed(FhirError):
    status = 412
    code = "conflict"


class PayloadTooLarge(FhirError):
    status = 413
    code = "too-costly"


class UnsupportedMediaType(FhirError):
    status = 415
    code = "not-supported"


class Unprocessable(FhirError):
    """Business rule failure (FHIR uses 422 for profile/business-rule failures)."""

    status = 422
    code = "processing"


class ServiceUnavailable(FhirError):
    status = 503
    code = "transient"


class IndexNotFresh(ServiceUnavailable):
    """A derived index cannot prove it holds everything (re-created empty, restored
    from an older snapshot, or it saw lost events): the primary must answer."""

    code = "incomplete"


def _all_subclasses(root: type[FhirError]) -> list[type[FhirError]]:
    found = []
    for sub in root.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


_BY_STATUS: dict[int, type[FhirError]] = {
    400: BadRequest,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    406: NotAcceptable,
    409: Conflict,
    410: Gone,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Unprocessable,
    503: ServiceUnavailable,
}
_SUBCLASSES = _all_subclasses(FhirError)
