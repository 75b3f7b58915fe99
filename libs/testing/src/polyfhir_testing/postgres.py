"""PostgreSQL for tests and benchmarks: the embedded one, or any server given by DSN.

``ExternalPostgres`` uses the server named by ``POLYFHIR_TEST_PG_DSN``; without
it the embedded server (``polyfhir_engines.postgres.LocalPostgres``) runs in a
directory of ours. Both hand out fresh databases, so each test session (or
benchmark run) starts empty.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from polyfhir_engines.postgres import LocalPostgres, check_name

DSN_VARIABLE = "POLYFHIR_TEST_PG_DSN"


class ExternalPostgres:
    """A server given by DSN; databases are created through its maintenance database."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def _with_database(self, name: str) -> str:
        parts = urlsplit(self.dsn)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))

    def create_database(self, name: str) -> str:
        import asyncpg

        name = check_name(name)

        async def create() -> None:
            conn = await asyncpg.connect(self.dsn)
            try:
                await conn.execute(f"CREATE DATABASE {name}")
            finally:
                await conn.close()

        asyncio.run(create())
        return self._with_database(name)

    def stop(self) -> None:
        """Nothing to stop: the server is not ours."""


def postgres_from_env(workdir: Path | str) -> LocalPostgres | ExternalPostgres:
    """``POLYFHIR_TEST_PG_DSN`` if set, else an embedded server in ``workdir``."""
    dsn = os.environ.get(DSN_VARIABLE)
    return ExternalPostgres(dsn) if dsn else LocalPostgres(workdir)
