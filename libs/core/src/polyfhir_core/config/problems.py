"""What validation reports: problems (fatal, raised together) and warnings (returned)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from polyfhir_core.errors import Issue, operation_outcome


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One reason a configuration cannot be used.

    ``code`` is stable (tests and tooling match on it); ``location`` is the dotted
    path of the offending setting, e.g. ``backends[search].failover``.
    """

    code: str
    message: str
    location: str = ""

    def __str__(self) -> str:
        where = f" ({self.location})" if self.location else ""
        return f"{self.code}: {self.message}{where}"


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """A configuration that works but is probably not what the operator meant."""

    code: str
    message: str
    location: str = ""

    def __str__(self) -> str:
        where = f" ({self.location})" if self.location else ""
        return f"{self.code}: {self.message}{where}"


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` lists every reason, not just the first.

    An operator's error found at start-up, so not a client-facing ``FhirError``;
    :meth:`outcome` still renders it as an OperationOutcome (one issue per problem)
    for an admin endpoint that validates a proposed configuration. Deliberately not
    a ``ValueError``: raised inside a pydantic validator it propagates as itself.
    """

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        plural = "s" if count != 1 else ""
        super().__init__(f"invalid polyfhir configuration ({count} problem{plural}):\n{lines}")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.problems)

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(
            [
                Issue(
                    code="invariant",
                    diagnostics=f"{p.code}: {p.message}",
                    expression=(p.location,) if p.location else (),
                )
                for p in self.problems
            ]
        )
