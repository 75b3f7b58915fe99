"""What differs between SQL engines, in one small object per engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol


class Conn(Protocol):
    """A connection inside an open transaction. SQL uses ``?`` placeholders."""

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Sequence[Any]]: ...

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    async def write_batches(self, batches: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        """``executemany`` each ``(sql, rows)`` in order, as few trips to the engine as it can."""


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    timestamps_as_text: bool
    for_update: str

    def ts(self, value: datetime) -> Any:
        if self.timestamps_as_text:
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return value

    def read_ts(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")

    def flag(self, value: bool) -> Any:
        return int(value) if self.timestamps_as_text else value


SQLITE = Dialect("sqlite", timestamps_as_text=True, for_update="")
POSTGRES = Dialect("postgresql", timestamps_as_text=False, for_update=" FOR UPDATE")


# Plain ``INSERT ... VALUES`` statements by their text: an engine may send many rows
# of one another way (PostgreSQL: COPY).
PLAIN_INSERTS: dict[str, tuple[str, tuple[str, ...]]] = {}


def plain_insert(table: str, columns: Sequence[str]) -> str:
    """``INSERT INTO table (columns) VALUES (?, ...)``, registered in :data:`PLAIN_INSERTS`."""
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    PLAIN_INSERTS[sql] = (table, tuple(columns))
    return sql


@lru_cache(maxsize=1024)
def numbered_placeholders(sql: str) -> str:
    """``?`` -> ``$1, $2, ...`` (our SQL never contains a literal question mark)."""
    parts = sql.split("?")
    out = [parts[0]]
    for n, part in enumerate(parts[1:], start=1):
        out.append(f"${n}{part}")
    return "".join(out)
