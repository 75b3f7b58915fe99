"""FHIR date/dateTime/instant values with their implicit precision range.

search.html §3.1.1.4.8: a date parameter value and a resource value are both
ranges. ``1970`` is all of 1970; ``1970-03-05T10:00`` is that minute. Ranges
are closed: ``high`` is the last microsecond inside the range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from polyfhir_core.errors import BadRequest

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_EPSILON = timedelta(microseconds=1)
MIN_INSTANT = datetime(1, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DateRange:
    low: datetime
    high: datetime


def _add_months(value: datetime, months: int) -> datetime:
    total = value.month - 1 + months
    return value.replace(year=value.year + total // 12, month=total % 12 + 1)


def _tz(raw: str | None) -> object:
    if raw is None or raw == "Z":
        return UTC
    sign = 1 if raw[0] == "+" else -1
    hours, minutes = int(raw[1:3]), int(raw[4:6])
    from datetime import timezone

    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_date_range(value: str) -> DateRange | None:
    """Return the range a FHIR date/dateTime/instant covers, or None if unparseable.

    Values without a timezone are taken as UTC (the server's zone).
    """
    match = _DATE_RE.match(value.strip())
    if match is None:
        return None
    g = match.groupdict()
    try:
        start = datetime(
            int(g["y"]),
            int(g["m"] or 1),
            int(g["d"] or 1),
            int(g["H"] or 0),
            int(g["M"] or 0),
            int(g["S"] or 0),
            int(((g["f"] or ".0")[1:] + "000000")[:6]),
            tzinfo=_tz(g["tz"]),  # type: ignore[arg-type]
        ).astimezone(UTC)
    except ValueError:
        return None
    if g["m"] is None:
        end = start.replace(year=start.year + 1)
    elif g["d"] is None:
        end = _add_months(start, 1)
    elif g["H"] is None:
        end = start + timedelta(days=1)
    elif g["S"] is None:
        end = start + timedelta(minutes=1)
    elif g["f"] is None:
        end = start + timedelta(seconds=1)
    else:
        digits = len(g["f"]) - 1
        end = (
            start + timedelta(microseconds=10 ** max(0, 6 - digits))
            if digits < 6
            else start + _EPSILON
        )
    return DateRange(start, end - _EPSILON)


def require_date_range(value: str, name: str) -> DateRange:
    parsed = parse_date_range(value)
    if parsed is None:
        raise BadRequest(f"{name}: {value!r} is not a FHIR date, dateTime or instant")
    return parsed


PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def split_prefix(value: str) -> tuple[str, str]:
    """``ge2020`` -> (``ge``, ``2020``); no prefix means ``eq``."""
    if len(value) > 2 and value[:2] in PREFIXES and not value[:2].isdigit():
        return value[:2], value[2:]
    return "eq", value
