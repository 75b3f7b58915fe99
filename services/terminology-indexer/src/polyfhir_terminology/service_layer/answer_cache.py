"""Answers of one process to repeated terminology requests, valid for one generation.

An entry is keyed by ``(tenant, generation, request)``: the generation is whatever
the caller compares to know that no definition of the tenant changed (the primary's
:class:`~polyfhir_core.contracts.primary_store.TypeGeneration` of CodeSystem,
ValueSet and ConceptMap for the in-process index), so an answer is only ever
reused for the very definitions it was computed from; a changed CodeSystem moves
the generation and every older entry becomes unreachable (and is evicted as the
least recently used). Only successful answers are kept; a request that cannot be
hashed (an inline value set) is always computed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

RequestT = TypeVar("RequestT")
AnswerT = TypeVar("AnswerT")

DEFAULT_CAPACITY = 4096


class AnswerCache(Generic[RequestT, AnswerT]):
    """The last ``capacity`` answers of one kind of call (least recently used out)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, Hashable, RequestT], AnswerT] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def answer(
        self,
        tenant: str,
        generation: Hashable,
        request: RequestT,
        compute: Callable[[], Awaitable[AnswerT]],
    ) -> AnswerT:
        """The kept answer to ``request`` at ``generation``, else ``compute()``'s (kept)."""
        key = (tenant, generation, request)
        try:
            found = self._entries.get(key)
        except TypeError:  # an unhashable request: nothing to key it by
            return await compute()
        if found is not None:
            self._entries.move_to_end(key)
            return found
        answer = await compute()
        self._entries[key] = answer
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return answer

    def drop_tenant(self, tenant: str) -> None:
        """Forget every answer of ``tenant`` (its store was emptied behind the generation)."""
        for key in [k for k in self._entries if k[0] == tenant]:
            del self._entries[key]
