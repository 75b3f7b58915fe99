"""Fixtures of the gateway pipeline tests: one in-process SQLite primary store per session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
async def primary(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    url = f"sqlite:///{tmp_path_factory.mktemp('gateway')}/pipeline.db"
    app = await bootstrap(PrimarySettings(primary_url=url))
    try:
        yield app.service
    finally:
        await app.close()
