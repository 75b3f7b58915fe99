"""The in-process answer cache (answer_cache.py): an answer is reused only for the same
tenant, generation and request; anything else is computed again."""

from __future__ import annotations

import pytest

from polyfhir_core.contracts.primary_store import TypeGeneration
from polyfhir_core.contracts.terminology import LookupRequest, ValidateCodeRequest
from polyfhir_terminology.service_layer.answer_cache import AnswerCache

SYS = "http://example.org/cs"


class Counting:
    """A computation that answers how many times it ran."""

    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self) -> str:
        self.runs += 1
        return f"answer {self.runs}"


async def test_the_same_question_at_the_same_generation_is_answered_once() -> None:
    cache = AnswerCache[LookupRequest, str]()
    compute = Counting()
    request = LookupRequest(SYS, "A")
    first = await cache.answer("t1", TypeGeneration(1, 5), request, compute)
    again = await cache.answer("t1", TypeGeneration(1, 5), LookupRequest(SYS, "A"), compute)
    assert (first, again, compute.runs) == ("answer 1", "answer 1", 1)


async def test_a_new_generation_another_tenant_or_request_is_computed_again() -> None:
    cache = AnswerCache[LookupRequest, str]()
    compute = Counting()
    request = LookupRequest(SYS, "A")
    await cache.answer("t1", TypeGeneration(1, 5), request, compute)
    assert await cache.answer("t1", TypeGeneration(2, 6), request, compute) == "answer 2"
    assert await cache.answer("t1", TypeGeneration(2, 4), request, compute) == "answer 3"
    assert await cache.answer("t2", TypeGeneration(1, 5), request, compute) == "answer 4"
    other = LookupRequest(SYS, "A", properties=("inactive",))
    assert await cache.answer("t1", TypeGeneration(1, 5), other, compute) == "answer 5"


async def test_a_failed_computation_is_not_kept() -> None:
    cache = AnswerCache[LookupRequest, str]()
    request = LookupRequest(SYS, "missing")

    async def failing() -> str:
        raise LookupError("unknown code")

    for _ in range(2):
        with pytest.raises(LookupError):
            await cache.answer("t1", TypeGeneration(), request, failing)
    assert len(cache) == 0


async def test_an_unhashable_request_is_always_computed() -> None:
    cache = AnswerCache[ValidateCodeRequest, str]()
    compute = Counting()
    inline = ValidateCodeRequest((), value_set={"resourceType": "ValueSet"})
    for _ in range(2):
        await cache.answer("t1", TypeGeneration(), inline, compute)
    assert (compute.runs, len(cache)) == (2, 0)


async def test_the_least_recently_used_answer_goes_first() -> None:
    cache = AnswerCache[LookupRequest, str](capacity=2)
    compute = Counting()
    a, b, c = (LookupRequest(SYS, code) for code in "ABC")
    generation = TypeGeneration(1, 1)
    await cache.answer("t1", generation, a, compute)
    await cache.answer("t1", generation, b, compute)
    await cache.answer("t1", generation, a, compute)  # A used again: B is now the oldest
    await cache.answer("t1", generation, c, compute)
    assert await cache.answer("t1", generation, a, compute) == "answer 1"
    assert await cache.answer("t1", generation, b, compute) == "answer 4"


async def test_dropping_a_tenant_forgets_only_its_answers() -> None:
    cache = AnswerCache[LookupRequest, str]()
    compute = Counting()
    request = LookupRequest(SYS, "A")
    await cache.answer("t1", TypeGeneration(), request, compute)
    await cache.answer("t2", TypeGeneration(), request, compute)
    cache.drop_tenant("t1")
    assert await cache.answer("t2", TypeGeneration(), request, compute) == "answer 2"
    assert await cache.answer("t1", TypeGeneration(), request, compute) == "answer 3"
