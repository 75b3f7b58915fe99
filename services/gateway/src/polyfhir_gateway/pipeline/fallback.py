"""Why a secondary cannot be used for one search (the primary then answers)."""

from __future__ import annotations


class Fallback(Exception):
    """The secondary cannot be used for this search; ``reason`` is a metric label,
    ``backend`` the secondary that failed when the raiser knows it."""

    def __init__(self, reason: str, detail: str = "", backend: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.backend = backend
