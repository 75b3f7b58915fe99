"""Versioned schema migrations: ``migrations/<dialect>/NNNN_name.sql``, applied in order once.

A migration normally runs in one transaction together with its ledger row. A
PostgreSQL file whose first line is ``-- polyfhir: no-transaction`` runs outside a
transaction, statement by statement (each statement ends a line with ``;``): what
``CREATE INDEX CONCURRENTLY`` needs to build an index on a live table without
blocking its writes. Such a file must be safe to run again after it stopped half
way (its ledger row is written only at the end): ``IF NOT EXISTS`` on what it adds,
and ``DROP INDEX CONCURRENTLY IF EXISTS`` before it rebuilds an index (a failed
concurrent build leaves an invalid index behind).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

NO_TRANSACTION_MARKER = "-- polyfhir: no-transaction"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def transactional(self) -> bool:
        """False for a file marked ``-- polyfhir: no-transaction`` on its first line."""
        return self.sql.lstrip().splitlines()[0].strip() != NO_TRANSACTION_MARKER

    @property
    def label(self) -> str:
        """``0014_token_words`` — the file name without ``.sql``."""
        return f"{self.version:04d}_{self.name}"

    def statements(self) -> list[str]:
        """The statements of a non-transactional file, one per ``;`` ending a line."""
        found: list[str] = []
        current: list[str] = []
        for line in self.sql.splitlines():
            if line.lstrip().startswith("--") and not current:
                continue
            current.append(line)
            if line.rstrip().endswith(";"):
                found.append("\n".join(current).strip())
                current = []
        tail = "\n".join(current).strip()
        if tail and not all(s.lstrip().startswith("--") for s in tail.splitlines()):
            found.append(tail)
        return found


def migrations_for(dialect: str) -> list[Migration]:
    folder = resources.files("polyfhir_primary.adapters.sql") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def pending(migrations: list[Migration], applied: set[int]) -> list[Migration]:
    """The migrations not yet in the ledger, in order."""
    return [m for m in migrations if m.version not in applied]


CREATE_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations"
    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
