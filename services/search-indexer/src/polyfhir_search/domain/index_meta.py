"""The index's bookkeeping documents, kept in the resources index with the documents.

Two kinds, neither with a ``tenant`` field (every tenant query filters on it, so
they are never a hit, counted, scanned or dropped):

- ``_position|<partition>``: the highest applied position of a partition, written
  with the position as external version (never lowered);
- ``_generation``: this physical index's generation id, whether it is
  ``complete`` (filled from the primary, no gap seen since) and how many ``gaps``
  it has seen. Updated compare-and-set: ``revision`` is the external version, a
  concurrent update gets a 409 and reads again.

Because they live in the same index as the documents they account for, an index
that is deleted, re-created empty or restored from an older snapshot loses or
rolls back its positions and its generation together with its documents: it can
never claim what it does not hold.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

GENERATION_ID = "_generation"
POSITION_PREFIX = "_position|"
POSITIONS_QUERY: dict[str, Any] = {"bool": {"filter": [{"exists": {"field": "partition"}}]}}


def position_id(partition: int) -> str:
    return f"{POSITION_PREFIX}{partition}"


def new_generation() -> str:
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True, slots=True)
class GenerationDoc:
    generation: str
    complete: bool
    gaps: int
    revision: int

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> GenerationDoc:
        return cls(
            str(source["generation"]),
            bool(source["complete"]),
            int(source["gaps"]),
            int(source["revision"]),
        )

    def source(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "complete": self.complete,
            "gaps": self.gaps,
            "revision": self.revision,
        }

    def with_gap(self) -> GenerationDoc:
        return GenerationDoc(self.generation, False, self.gaps + 1, self.revision + 1)

    def completed(self) -> GenerationDoc:
        return GenerationDoc(self.generation, True, self.gaps, self.revision + 1)


def generation_write(index: str, doc: GenerationDoc) -> list[dict[str, Any]]:
    """The bulk actions writing ``doc`` if nobody wrote this revision first (else 409)."""
    meta = {"_index": index, "_id": GENERATION_ID, "version": doc.revision}
    return [{"index": {**meta, "version_type": "external"}}, doc.source()]


def first_gap(held: dict[int, int], lowest: dict[int, int]) -> int | None:
    """A partition whose batch starts beyond the next expected position (positions are
    gapless per partition: a jump means events were lost), or None. A partition this
    index has never recorded is not judged: an index that has not been filled is not
    complete anyway, and its first recorded position starts the chain."""
    for partition, low in sorted(lowest.items()):
        if partition in held and low > held[partition] + 1:
            return partition
    return None
