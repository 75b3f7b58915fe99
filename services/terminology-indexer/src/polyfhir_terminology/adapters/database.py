"""The SQL engine under the terminology store: what SQLite and PostgreSQL each provide.

Statements are written once with ``?`` placeholders (PostgreSQL numbers them);
engine differences are the few attributes and methods of :class:`Database`.
Migrations are ``migrations/<engine>/NNNN_name.sql``, applied once, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

Row = Sequence[Any]
CREATE_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations"
    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


class Connection(Protocol):
    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """The number of rows the statement changed."""

    async def executemany(self, sql: str, rows: Sequence[Row]) -> None: ...

    async def insert_rows(self, table: str, columns: tuple[str, ...], rows: Sequence[Row]) -> None:
        """Many rows in one go (SQLite: one ``executemany``; PostgreSQL: ``COPY``)."""


class Database(Protocol):
    engine: str
    share_lock: str  # appended to a SELECT that must hold its rows until commit

    def transaction(self) -> AbstractAsyncContextManager[Connection]: ...

    def reading(self) -> AbstractAsyncContextManager[Connection]: ...

    async def migrate(self) -> None: ...

    async def analyze(self, tables: tuple[str, ...]) -> None:
        """Refresh the planner's statistics after a large load (where the engine needs it)."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_for(engine: str) -> list[Migration]:
    folder = resources.files("polyfhir_terminology.adapters") / "migrations" / engine
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def insert_statement(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def numbered_placeholders(sql: str) -> str:
    """``?`` -> ``$1, $2, ...`` (the statements never contain a literal question mark)."""
    parts = sql.split("?")
    out = [parts[0]]
    for n, part in enumerate(parts[1:], start=1):
        out.append(f"${n}{part}")
    return "".join(out)


def marks(n: int) -> str:
    """``?, ?, ?`` for an ``IN`` list of ``n`` values."""
    return ", ".join("?" for _ in range(n))
