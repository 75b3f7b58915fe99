"""A token bucket on an injected monotonic clock (tests hand in a fake one)."""

from __future__ import annotations

import math
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """``rate`` tokens a second refill a bucket of ``size``; one request spends one token."""

    __slots__ = ("_clock", "_stamp", "_tokens", "rate", "size")

    def __init__(self, rate: float, size: float, clock: Clock) -> None:
        self.rate = rate
        self.size = size
        self._clock = clock
        self._tokens = size
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self.size, self._tokens + elapsed * self.rate)
        self._stamp = now

    def try_take(self) -> bool:
        """Spend one token if there is one."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def retry_after_s(self) -> int:
        """Whole seconds until one token is back (at least 1: ``Retry-After`` is an integer)."""
        self._refill()
        missing = max(0.0, 1.0 - self._tokens)
        return max(1, math.ceil(missing / self.rate))

    @property
    def full(self) -> bool:
        """Refilled to the brim: idle, and safe to forget (a new bucket starts full)."""
        self._refill()
        return self._tokens >= self.size
