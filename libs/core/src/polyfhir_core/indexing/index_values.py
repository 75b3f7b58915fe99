"""Index rows of one resource version: what search matches against.

One dataclass per index table of the primary store. Values are already in
their searchable form (strings normalised, dates and numbers as closed ranges
with their implicit precision), so every backend compares the same things.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple, TypeVar

T = TypeVar("T")


class TokenValue(NamedTuple):
    param: str
    system: str | None
    code: str | None
    text: str | None = None


class StringValue(NamedTuple):
    param: str
    value: str  # normalised: case-folded, accents removed, whitespace collapsed
    exact: str | None = None  # as written, for :exact


class DateValue(NamedTuple):
    param: str
    low: datetime
    high: datetime


class NumberValue(NamedTuple):
    param: str
    value: Decimal
    low: Decimal
    high: Decimal


class QuantityValue(NamedTuple):
    param: str
    value: Decimal
    low: Decimal
    high: Decimal
    system: str | None
    code: str | None
    unit: str | None


class ReferenceValue(NamedTuple):
    param: str
    target_type: str | None
    target_id: str | None
    url: str | None = None


class UriValue(NamedTuple):
    param: str
    value: str


@dataclass(slots=True)
class CompositeElement:
    """One element selected by a composite parameter (``Observation.component[n]``):
    its components' rows, named ``<composite>$<component number>``, kept together."""

    elem: int
    values: IndexValues


@dataclass(slots=True)
class IndexValues:
    tokens: list[TokenValue] = field(default_factory=list)
    strings: list[StringValue] = field(default_factory=list)
    dates: list[DateValue] = field(default_factory=list)
    numbers: list[NumberValue] = field(default_factory=list)
    quantities: list[QuantityValue] = field(default_factory=list)
    references: list[ReferenceValue] = field(default_factory=list)
    uris: list[UriValue] = field(default_factory=list)
    composites: list[CompositeElement] = field(default_factory=list)

    def count(self) -> int:
        return (
            len(self.tokens)
            + len(self.strings)
            + len(self.dates)
            + len(self.numbers)
            + len(self.quantities)
            + len(self.references)
            + len(self.uris)
            + sum(c.values.count() for c in self.composites)
        )

    def dedupe(self) -> IndexValues:
        """Drop repeated rows (the same value reached by two expression branches)."""
        return IndexValues(
            tokens=_unique(self.tokens),
            strings=_unique(self.strings),
            dates=_unique(self.dates),
            numbers=_unique(self.numbers),
            quantities=_unique(self.quantities),
            references=_unique(self.references),
            uris=_unique(self.uris),
            composites=[CompositeElement(c.elem, c.values.dedupe()) for c in self.composites],
        )


def _unique(rows: list[T]) -> list[T]:
    """The rows in order, each once (a new list, so the result shares nothing)."""
    return list(dict.fromkeys(rows)) if rows else []
