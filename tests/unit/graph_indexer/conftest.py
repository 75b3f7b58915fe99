"""The event builders, as the ``ev`` fixture the graph-indexer's unit tests take."""

from __future__ import annotations

import pytest

from fakes.events import Events


@pytest.fixture
def ev() -> type[Events]:
    return Events
