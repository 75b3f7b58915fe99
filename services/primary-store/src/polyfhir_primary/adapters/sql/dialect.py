"""What differs between SQL engines: the ``Dialect`` every engine implements, and ``Conn``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import orjson

if TYPE_CHECKING:
    from polyfhir_primary.adapters.sql.pending import Owner, Phase
    from polyfhir_primary.search.plan import Clause, FullTextClause


class Conn(Protocol):
    """A connection inside an open transaction. SQL uses ``?`` placeholders."""

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Sequence[Any]]: ...

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    async def write_batches(self, batches: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        """``executemany`` each ``(sql, rows)`` in order, as few trips to the engine as it can."""


class Dialect(ABC):
    """What differs between SQL engines, as one object per engine
    (``dialects/sqlite.py``, ``dialects/postgres.py``): the SQL shared by both asks
    it rather than testing the engine's name."""

    name: ClassVar[str]
    timestamps_as_text: ClassVar[bool]
    for_update: ClassVar[str]  # appended to a read that locks the row for the write after it

    # How a search finds its matches (docs/search.md, "Statements per search").
    # Every clause but the driving one probes the rows the driver found (SQLite
    # materialises every ``IN`` list; PostgreSQL's planner orders memberships itself).
    probes_other_clauses: ClassVar[bool]
    # Counts (and a chain's matches) from index rows rather than a resources row per match.
    counts_from_index_rows: ClassVar[bool]
    # The default-order page's ids from index rows (PostgreSQL; SQLite reads its
    # resources in that order already and keeps the general page statement).
    pages_from_index_rows: ClassVar[bool]
    # The first full-text page by walking the type's documents in id order.
    walks_fulltext: ClassVar[bool]
    # ``:below``/``:above`` of a code with a system: the related codes listed from the
    # closure drive the token index (SQLite would otherwise probe the closure once per
    # token row of the parameter; PostgreSQL's planner drives from the closure itself).
    closure_drives: ClassVar[bool] = False

    def ts(self, value: datetime) -> Any:
        if self.timestamps_as_text:
            return _text_timestamp(value)
        return value

    def read_ts(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        # fromisoformat (C) reads what ``ts`` writes ("...T12:00:00.000000Z", UTC) as
        # strptime did, at a fraction of the cost: it ran on every row of every page
        return datetime.fromisoformat(value)

    def flag(self, value: bool) -> Any:
        return int(value) if self.timestamps_as_text else value

    def one_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """``column`` equals one of ``values``, bound as ONE argument however many there
        are: an ``OR`` of thousands of terms exceeds SQLite's expression depth (1000)
        and makes PostgreSQL plan thousands of parameters. SQLite reads a JSON array."""
        return f"{column} IN (SELECT value FROM json_each(?))", [
            orjson.dumps(list(values)).decode()
        ]

    def code_list_source(self, j: str, values: Sequence[str]) -> tuple[str, list[Any]] | None:
        """A table ``j`` (column ``value``) of ``values`` for a code list that drives its
        subquery (``FROM <source> CROSS JOIN idx_token x ON x.code = j.value``: one index
        probe per code), or None to keep :meth:`one_of`. SQLite builds the ``IN`` list of
        :meth:`one_of` into a temporary index on every statement: with 2,000 codes that
        is 3x the probes' time; PostgreSQL plans ``= ANY`` itself."""
        del j, values
        return None

    @abstractmethod
    def driving_clause(self, clauses: Sequence[Clause]) -> int | None:
        """The clause whose rows drive a search (the others probe them), or None
        when every clause is a membership the engine orders itself."""

    def probes(self, others: Sequence[Clause]) -> bool:
        """Whether ``others`` (every clause but the driver) probe the driver's rows
        rather than being memberships the engine orders."""
        del others
        return self.probes_other_clauses

    # Appended inside a probe's ``EXISTS`` (PostgreSQL: `` OFFSET 0`` keeps the planner
    # from pulling the probe up into a join it would reorder).
    probe_fence: ClassVar[str] = ""

    @abstractmethod
    def fulltext_membership(self, f: str, words: FullTextClause) -> tuple[str, str, list[Any]]:
        """``(table, condition, args)``: the engine's full-text rows (alias ``f``)
        that contain ``words``."""

    @abstractmethod
    async def planner_estimate(self, conn: Conn, select: str, args: Sequence[Any]) -> int | None:
        """The planner's row estimate for ``select``; None where the engine has none."""

    @abstractmethod
    def document_writes(
        self, owner: Owner, narrative: str | None, content: str | None, *, previous: int | None
    ) -> list[tuple[Phase, str, tuple[Any, ...]]]:
        """Statements replacing the owner's full-text documents (``content=None``: a
        delete removes them); ``previous``: the earlier version, if any."""

    @abstractmethod
    async def lock_condition(self, conn: Conn, key: str) -> None:
        """Serialise conditional writes on ``key`` until the transaction ends."""


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


@lru_cache(maxsize=64)
def _text_timestamp(value: datetime) -> str:
    """A timestamp as SQLite keeps it (UTC, microseconds). Cached: a transaction writes
    its one time on every resource and version row (``strftime`` was ~5 % of a SQLite
    import's wall time, py-spy, session 11)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
