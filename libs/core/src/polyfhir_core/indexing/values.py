"""Index rows of one resource version: what search matches against.

One dataclass per index table of the primary store. Values are already in
their searchable form (strings normalised, dates and numbers as closed ranges
with their implicit precision), so every backend compares the same things.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class TokenValue:
    param: str
    system: str | None
    code: str | None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class StringValue:
    param: str
    value: str  # normalised: case-folded, accents removed, whitespace collapsed
    exact: str | None = None  # as written, for :exact


@dataclass(frozen=True, slots=True)
class DateValue:
    param: str
    low: datetime
    high: datetime


@dataclass(frozen=True, slots=True)
class NumberValue:
    param: str
    value: Decimal
    low: Decimal
    high: Decimal


@dataclass(frozen=True, slots=True)
class QuantityValue:
    param: str
    value: Decimal
    low: Decimal
    high: Decimal
    system: str | None
    code: str | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    param: str
    target_type: str | None
    target_id: str | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class UriValue:
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
        return sum(
            len(rows)
            for rows in (
                self.tokens,
                self.strings,
                self.dates,
                self.numbers,
                self.quantities,
                self.references,
                self.uris,
            )
        ) + sum(c.values.count() for c in self.composites)

    def dedupe(self) -> IndexValues:
        """Drop repeated rows (the same value reached by two expression branches)."""
        return IndexValues(
            tokens=list(dict.fromkeys(self.tokens)),
            strings=list(dict.fromkeys(self.strings)),
            dates=list(dict.fromkeys(self.dates)),
            numbers=list(dict.fromkeys(self.numbers)),
            quantities=list(dict.fromkeys(self.quantities)),
            references=list(dict.fromkeys(self.references)),
            uris=list(dict.fromkeys(self.uris)),
            composites=[CompositeElement(c.elem, c.values.dedupe()) for c in self.composites],
        )
