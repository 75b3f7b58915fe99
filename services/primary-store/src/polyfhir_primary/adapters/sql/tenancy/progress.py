"""Progress of a pass over every tenant (migrations at startup)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


async def for_each_tenant(
    what: str, items: Sequence[T], run: Callable[[T], Awaitable[None]], every: int = 0
) -> None:
    """``run`` each item in order, logging ``<what> 40/200 tenants`` (e.g. ``migrated
    40/200 tenants``) about twenty times over the pass (every item when there are few)."""
    total = len(items)
    step = every or max(1, total // 20)
    for done, item in enumerate(items, start=1):
        await run(item)
        if done % step == 0 or done == total:
            log.info("%s %d/%d tenants", what, done, total)
