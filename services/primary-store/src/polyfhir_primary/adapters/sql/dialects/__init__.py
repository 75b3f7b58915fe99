"""One ``Dialect`` per engine; ``DIALECTS`` by the engine's name."""

from polyfhir_primary.adapters.sql.dialect import Dialect
from polyfhir_primary.adapters.sql.dialects.postgres import POSTGRES, PostgresDialect
from polyfhir_primary.adapters.sql.dialects.sqlite import SQLITE, SqliteDialect

DIALECTS: dict[str, Dialect] = {d.name: d for d in (SQLITE, POSTGRES)}

__all__ = ["DIALECTS", "POSTGRES", "SQLITE", "Dialect", "PostgresDialect", "SqliteDialect"]
