"""SQLite bulk load: the index tables' indexes built after the load, not row by row.

At 1M resources a transaction's ~50 index rows per resource each land on a random
leaf of the index tables' indexes (keyed on ``res_id``, a uuid, or on a value then
``res_id``), so every commit writes a 4 KB page per index row to the WAL and the
checkpoint writes it again: session 13's preload wrote ~200 KB to disk per
resource and fell from 434 to 271 resources/s between 100k and 200k resources.

:func:`deferred_indexes` drops those indexes (``idx_*``) for the load and creates
them again from their own ``CREATE INDEX`` statements at the end (a sort per
index), so the file ends with the same tables, rows and indexes. Kept during the
load: ``idx_token_value``, which the conditional creates of the shared
practitioners search on (without it each would scan every token row). The
statements are kept beside the file until they are restored, so a load that
stops half way is mended by the next one (or :func:`restore`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KEPT = ("idx_token_value",)  # the conditional creates search on it during the load


def _pending(path: Path) -> Path:
    return path.with_name(path.name + ".deferred-indexes.sql")


def _drop(path: Path) -> None:
    with sqlite3.connect(path, isolation_level=None) as db:
        found = db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx\\_%'"
            " ESCAPE '\\' AND sql IS NOT NULL ORDER BY name"
        ).fetchall()
        dropped = [(name, sql) for name, sql in found if name not in KEPT]
        pending = _pending(path)
        kept = pending.read_text().split(";\n") if pending.exists() else []
        pending.write_text(";\n".join([*kept, *(sql for _, sql in dropped)]))
        for name, _ in dropped:
            db.execute(f'DROP INDEX "{name}"')
    db.close()


def restore(path: Path) -> int:
    """Create the indexes a deferred load dropped; how many were created."""
    pending = _pending(path)
    if not pending.exists():
        return 0
    statements = [s for s in pending.read_text().split(";\n") if s.strip()]
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("PRAGMA cache_size=-262144")  # the sorts: 256 MiB, then temp files
        for sql in statements:
            db.execute(sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
    db.close()
    pending.unlink()
    return len(statements)


@contextmanager
def deferred_indexes(path: str | None) -> Iterator[None]:
    """Drop the index tables' indexes of the SQLite file ``path`` for the block, restore
    them after it (also when it fails). ``None`` (not a SQLite file): nothing."""
    if path is None or not Path(path).exists():
        yield
        return
    _drop(Path(path))
    try:
        yield
    finally:
        restore(Path(path))
