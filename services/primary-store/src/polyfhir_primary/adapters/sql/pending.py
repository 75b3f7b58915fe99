"""Writes a session defers until it next reads what they touch, or commits.

A resource version is ~45 statements (its version row, ~40 index rows over
seven tables, its full-text document, its outbox row). Sent one by one that is
a thread hop each on SQLite and a round trip each on PostgreSQL; deferred, a
whole transaction's writes go out as one ``executemany`` per statement: one
hop on SQLite, one pipelined round trip per statement on PostgreSQL.

Order is kept where it matters: every deferred statement belongs to one
resource (its *owner*) and a *phase*. Within a flush an owner appears once (a
second write to the same owner flushes the first), so statements of different
owners commute, and each owner's statements run phase by phase: the rows of
the previous version are cleared, then the new rows written, then rows derived
from those, then the outbox row. Within a phase an owner's statements are
independent, so grouping them by SQL text is safe. Outbox rows keep their
order (a stable sort), and with it the commit order the relay publishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

Owner = tuple[str, str, str]
OWNER_WHERE = "tenant = ? AND res_type = ? AND res_id = ?"  # an owner's rows, in any table
Batch = tuple[str, list[Sequence[Any]]]


class Phase(IntEnum):
    CLEAR = 0  # rows of the previous version
    WRITE = 1  # the new version's rows
    DERIVED = 2  # rows that select from WRITE rows (SQLite's FTS5 document)
    OUTBOX = 3  # the change event, last


class PendingWrites:
    def __init__(self) -> None:
        self._items: list[tuple[Phase, str, list[Sequence[Any]]]] = []
        self._owners: set[Owner] = set()

    def holds(self, owner: Owner) -> bool:
        return owner in self._owners

    def add(self, owner: Owner, phase: Phase, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._owners.add(owner)
            self._items.append((phase, sql, list(rows)))

    def take(self) -> list[Batch]:
        """The deferred statements, one batch per statement text, in a safe order."""
        items = sorted(self._items, key=lambda item: (item[0], item[1]))  # stable
        self._items, self._owners = [], set()
        batches: list[Batch] = []
        for _, sql, rows in items:
            if batches and batches[-1][0] == sql:
                batches[-1][1].extend(rows)
            else:
                batches.append((sql, rows))
        return batches
