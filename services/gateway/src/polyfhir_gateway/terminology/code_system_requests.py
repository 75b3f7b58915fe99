"""``CodeSystem/$lookup``, ``$validate-code`` and ``$subsumes``: the input parameters
(R4 OperationDefinitions CodeSystem-lookup, CodeSystem-validate-code,
CodeSystem-subsumes) read into the terminology contract's requests.

A code is named either by ``system`` + ``code`` (+ ``version``) or by a
``Coding``; both at once must agree, otherwise the request is contradictory
(400). At instance level (``CodeSystem/[id]/$validate-code``,
``CodeSystem/[id]/$subsumes``) the route reads the CodeSystem and passes its
``url`` and ``version`` as ``instance``.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyfhir_core.contracts.terminology import (
    Coding,
    LookupRequest,
    SubsumesRequest,
    ValidateCodeRequest,
)
from polyfhir_core.errors import BadRequest
from polyfhir_gateway.terminology.operation_input import OperationInput

LOOKUP_PARAMS = frozenset({"code", "system", "version", "coding", "property", "displayLanguage"})
LOOKUP_UNSUPPORTED = frozenset({"date"})
CS_VALIDATE_PARAMS = frozenset(
    {"url", "system", "code", "version", "display", "coding", "codeableConcept", "displayLanguage"}
)
CS_VALIDATE_UNSUPPORTED = frozenset({"codeSystem", "date", "abstract"})
SUBSUMES_PARAMS = frozenset({"codeA", "codeB", "system", "version", "codingA", "codingB"})


@dataclass(frozen=True, slots=True)
class CodeSystemRef:
    """The CodeSystem of an instance-level call: its canonical and version."""

    url: str
    version: str | None = None


def agreed(operation: str, name: str, given: str | None, implied: str | None) -> str | None:
    """One value from two places (a parameter and a Coding's element): they must agree."""
    if given is not None and implied is not None and given != implied:
        raise BadRequest(f"{operation}: {name} {given!r} contradicts {implied!r}")
    return given if given is not None else implied


def _named_code(
    op: str, given: OperationInput, code_name: str, coding_name: str, system: str | None
) -> Coding:
    """``code_name`` (with ``system``) or ``coding_name``: the one concept asked about."""
    code, coding = given.string(code_name), given.coding(coding_name)
    if coding is None and code is None:
        raise BadRequest(f"{op}: {code_name} or {coding_name} is required")
    if coding is None:
        if system is None:
            raise BadRequest(f"{op}: {code_name} needs a system")
        assert code is not None
        return Coding(system, code)
    agreed(op, code_name, code, coding.code)
    agreed(op, "system", system, coding.system)
    return coding


def lookup_request(given: OperationInput, instance: None = None) -> LookupRequest:
    """``instance`` is always ``None``: R4 defines no instance level for ``$lookup``."""
    op = given.operation
    system = given.string("system")
    coding = _named_code(op, given, "code", "coding", system)
    version = agreed(op, "version", given.string("version"), coding.version)
    return LookupRequest(
        coding.system,
        coding.code,
        version,
        given.strings("property"),
        given.string("displayLanguage"),
    )


def _code_system_url(
    op: str, given: OperationInput, instance: CodeSystemRef | None
) -> tuple[str | None, str | None]:
    """``url`` (``system`` accepted as its alias) and ``version``, or the instance's."""
    url = agreed(op, "url", given.string("url"), given.string("system"))
    version = given.string("version")
    if instance is not None:
        url = agreed(op, "url", url, instance.url)
        version = agreed(op, "version", version, instance.version)
    return url, version


def codings_asked(op: str, given: OperationInput, system: str | None) -> tuple[Coding, ...]:
    """Exactly one of ``code`` (+ ``system`` + ``display``), ``coding``, ``codeableConcept``."""
    code, coding = given.string("code"), given.coding("coding")
    concept = given.codeable_concept("codeableConcept")
    forms = [f for f in (code, coding, concept) if f is not None]
    if len(forms) != 1:
        raise BadRequest(f"{op}: exactly one of code, coding or codeableConcept is required")
    display = given.string("display")
    if concept is not None:
        if display is not None:
            raise BadRequest(f"{op}: display goes with code or coding, not codeableConcept")
        return concept
    if coding is not None:
        shown = agreed(op, "display", display, coding.display)
        return (Coding(coding.system, coding.code, shown, coding.version),)
    if system is None:
        raise BadRequest(f"{op}: code needs a system")
    assert code is not None
    return (Coding(system, code, display),)


def code_system_validate_request(
    given: OperationInput, instance: CodeSystemRef | None = None
) -> ValidateCodeRequest:
    op = given.operation
    url, version = _code_system_url(op, given, instance)
    codings = codings_asked(op, given, url)
    if url is None:
        systems = {c.system for c in codings}
        if len(systems) != 1:
            raise BadRequest(f"{op}: url (the code system) is required")
        url = systems.pop()
    for coding in codings:
        agreed(op, "system", url, coding.system)
    return ValidateCodeRequest(
        codings,
        code_system=url,
        code_system_version=version,
        display_language=given.string("displayLanguage"),
    )


def subsumes_request(
    given: OperationInput, instance: CodeSystemRef | None = None
) -> SubsumesRequest:
    op = given.operation
    system, version = given.string("system"), given.string("version")
    if instance is not None:
        system = agreed(op, "system", system, instance.url)
        version = agreed(op, "version", version, instance.version)
    a = _named_code(op, given, "codeA", "codingA", system)
    b = _named_code(op, given, "codeB", "codingB", system)
    if a.system != b.system:
        raise BadRequest(f"{op}: codeA and codeB are in different systems ({a.system}, {b.system})")
    version = agreed(op, "version", version, a.version or b.version)
    return SubsumesRequest(a.system, a.code, b.code, version)
