"""A FHIR operation's input parameters: a query string (GET) or a ``Parameters`` body (POST).

Both forms end up as one list of ``(name, value)`` pairs: a query string gives
strings, a ``Parameters`` body gives the ``value[x]`` (whatever its type), a
``resource`` or a ``part``. The typed accessors check what each operation
parameter may be: a repeated ``0..1`` parameter, a string where a boolean is
expected, a ``Coding`` in a query string that is not ``system|code``, are 400s.
Which names an operation knows is its own business (:meth:`OperationInput.check_names`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from polyfhir_core.contracts.terminology import Coding
from polyfhir_core.errors import BadRequest, NotSupported

Json = dict[str, Any]
T = TypeVar("T")
_IGNORED = frozenset({"_format", "_pretty"})
_BOOLEANS = {"true": True, "false": False}


@dataclass(frozen=True, slots=True)
class OperationInput:
    """``(name, value)`` pairs; ``value`` is a ``str`` (query string) or the JSON of one
    ``Parameters.parameter`` (POST)."""

    operation: str
    pairs: tuple[tuple[str, Any], ...]
    from_body: bool = False
    names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(name for name, _ in self.pairs))

    @classmethod
    def of_query(cls, operation: str, pairs: Iterable[tuple[str, str]]) -> OperationInput:
        return cls(operation, tuple((k, v) for k, v in pairs if k not in _IGNORED))

    @classmethod
    def of_parameters(cls, operation: str, body: Any) -> OperationInput:
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise BadRequest(f"{operation}: the POST body must be a Parameters resource")
        parameters = body.get("parameter", [])
        if not isinstance(parameters, list):
            raise BadRequest(f"{operation}: Parameters.parameter must be a list")
        pairs: list[tuple[str, Any]] = []
        for parameter in parameters:
            name = parameter.get("name") if isinstance(parameter, dict) else None
            if not isinstance(name, str) or not name:
                raise BadRequest(f"{operation}: every parameter needs a name")
            pairs.append((name, parameter))
        return cls(operation, tuple(pairs), from_body=True)

    # -- names ---------------------------------------------------------------------------

    def check_names(
        self, known: frozenset[str], unsupported: frozenset[str], *, strict: bool
    ) -> None:
        """FHIR parameters this server does not honour are 400 (``not-supported``): the
        answer would be wrong without them. Names the operation does not define are
        400 under ``Prefer: handling=strict`` and ignored otherwise (as in search)."""
        refused = sorted(self.names & unsupported)
        if refused:
            raise NotSupported(
                f"{self.operation}: parameter(s) not supported: {', '.join(refused)}"
            )
        unknown = sorted(self.names - known - unsupported)
        if unknown and strict:
            raise BadRequest(f"{self.operation}: unknown parameter(s): {', '.join(unknown)}")

    def _values(self, name: str) -> list[Any]:
        return [value for key, value in self.pairs if key == name]

    def _single(self, name: str) -> Any | None:
        values = self._values(name)
        if len(values) > 1:
            raise BadRequest(f"{self.operation}: {name} may be given only once")
        return values[0] if values else None

    # -- typed values --------------------------------------------------------------------

    def string(self, name: str) -> str | None:
        value = self._single(name)
        return None if value is None else self._text(name, value)

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(self._text(name, value) for value in self._values(name))

    def boolean(self, name: str) -> bool | None:
        return self._scalar(name, _as_boolean, "true or false")

    def integer(self, name: str) -> int | None:
        return self._scalar(name, _as_count, "a non-negative integer")

    def coding(self, name: str) -> Coding | None:
        value = self._single(name)
        if value is None:
            return None
        if not self.from_body:
            system, bar, code = str(value).partition("|")
            if not bar or not system or not code:
                raise BadRequest(f"{self.operation}: {name} in a query string is system|code")
            return Coding(system, code)
        return _coding(self.operation, name, value.get("valueCoding"))

    def codeable_concept(self, name: str) -> tuple[Coding, ...] | None:
        value = self._body_only(name)
        if value is None:
            return None
        concept = value.get("valueCodeableConcept")
        codings = concept.get("coding") if isinstance(concept, dict) else None
        if not isinstance(codings, list) or not codings:
            raise BadRequest(f"{self.operation}: {name} needs a valueCodeableConcept with codings")
        return tuple(_coding(self.operation, name, c) for c in codings)

    def resource(self, name: str, resource_type: str) -> Json | None:
        value = self._body_only(name)
        if value is None:
            return None
        resource = value.get("resource")
        if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
            raise BadRequest(f"{self.operation}: {name} must carry a {resource_type} resource")
        return resource

    def _body_only(self, name: str) -> Json | None:
        """The one ``name`` parameter; a query string cannot carry it (a complex type)."""
        value: Json | None = self._single(name)
        if value is not None and not self.from_body:
            raise BadRequest(f"{self.operation}: {name} can only be given in a POST body")
        return value

    def _scalar(self, name: str, parse: Callable[[Any], T | None], expected: str) -> T | None:
        """The one ``name`` parameter read by ``parse`` (``None``: not what is ``expected``)."""
        value = self._single(name)
        if value is None:
            return None
        parsed = parse(self._raw(value))
        if parsed is None:
            raise BadRequest(f"{self.operation}: {name} must be {expected}")
        return parsed

    def _raw(self, value: Any) -> Any:
        """A query string's text, or a body parameter's ``value[x]``."""
        return _primitive(value) if self.from_body else value

    def _text(self, name: str, value: Any) -> str:
        raw = self._raw(value)
        if not isinstance(raw, str) or not raw:
            raise BadRequest(f"{self.operation}: {name} must be a non-empty string")
        return raw


def _primitive(parameter: Json) -> Any:
    """The one ``value[x]`` of a ``Parameters.parameter`` (``None`` when it has none)."""
    values = [v for k, v in parameter.items() if k.startswith("value")]
    return values[0] if len(values) == 1 else None


def _as_boolean(raw: Any) -> bool | None:
    """``true``/``false`` (a query string) or a JSON boolean."""
    if isinstance(raw, bool):
        return raw
    return _BOOLEANS.get(raw) if isinstance(raw, str) else None


def _as_count(raw: Any) -> int | None:
    """A non-negative integer: digits (a query string) or a JSON integer."""
    if isinstance(raw, str) and raw.isdigit() and len(raw) < 10:
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        return None
    return raw


def _coding(operation: str, name: str, raw: Any) -> Coding:
    if not isinstance(raw, dict):
        raise BadRequest(f"{operation}: {name} must be a Coding")
    system, code = raw.get("system"), raw.get("code")
    if not isinstance(system, str) or not system or not isinstance(code, str) or not code:
        raise BadRequest(f"{operation}: {name} needs a system and a code")
    display, version = raw.get("display"), raw.get("version")
    return Coding(
        system,
        code,
        display if isinstance(display, str) else None,
        version if isinstance(version, str) else None,
    )
