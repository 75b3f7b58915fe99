"""The replica's request slots (``POLYFHIR_MAX_IN_FLIGHT``): handed out a budget at a
time in turn, so a flood queues behind itself; waits are bounded; a waiter that goes
away gives nothing back twice."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from fastapi import FastAPI

from fakes.jobs import FakeJobStore
from polyfhir_gateway.fairshare.fair_queue import FairQueue, QueueTimeout
from polyfhir_gateway.fairshare.middleware import FairShareMiddleware
from polyfhir_gateway.settings import GatewaySettings


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_freed_slot_goes_to_the_budgets_in_turn() -> None:
    queue = FairQueue(slots=1, timeout_s=5)
    await queue.acquire("noisy", "noisy")  # the one slot, held
    order: list[str] = []

    async def request(key: str) -> None:
        await queue.acquire(key, key)
        order.append(key)
        queue.release()

    flood = [asyncio.create_task(request("noisy")) for _ in range(4)]
    await _settle()
    quiet = asyncio.create_task(request("quiet"))  # arrives behind four of the flood
    await _settle()
    assert queue.waiting == 5
    queue.release()
    await asyncio.gather(*flood, quiet)
    assert order == ["noisy", "quiet", "noisy", "noisy", "noisy"]
    assert queue.running == 0 and queue.waiting == 0


async def test_requests_run_at_once_up_to_the_bound() -> None:
    queue = FairQueue(slots=2, timeout_s=5)
    await queue.acquire("a", "a")
    await queue.acquire("b", "b")
    third = asyncio.create_task(queue.acquire("c", "c"))
    await _settle()
    assert not third.done() and queue.running == 2
    queue.release()
    await third
    assert queue.running == 2


async def test_a_wait_is_bounded() -> None:
    queue = FairQueue(slots=1, timeout_s=0.01)
    await queue.acquire("a", "a")
    with pytest.raises(QueueTimeout):
        await queue.acquire("b", "b")
    assert queue.waiting == 0
    queue.release()
    assert queue.running == 0


async def test_a_waiter_that_goes_away_leaves_the_slots_as_they_were() -> None:
    queue = FairQueue(slots=1, timeout_s=5)
    await queue.acquire("a", "a")
    gone = asyncio.create_task(queue.acquire("b", "b"))
    await _settle()
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    assert queue.waiting == 0
    queue.release()
    assert queue.running == 0
    await queue.acquire("c", "c")  # free again, at once
    assert queue.running == 1


def _app(gate: asyncio.Event) -> FastAPI:
    settings = GatewaySettings(max_in_flight=1, queue_timeout_s=0.05)
    app = FastAPI()
    app.state.settings = settings
    app.state.token_verifier = None

    @app.get("/fhir/Patient")
    async def search() -> dict[str, str]:
        await gate.wait()
        return {"resourceType": "Bundle"}

    app.add_middleware(FairShareMiddleware, settings=settings, jobs=FakeJobStore())
    return app


async def test_a_request_that_finds_no_slot_in_time_is_answered_503() -> None:
    gate = asyncio.Event()
    app = _app(gate)
    transport = httpx.ASGITransport(app=app)
    headers = {"X-Tenant-ID": "t1"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        holding = asyncio.create_task(client.get("/fhir/Patient", headers=headers))
        await _settle()
        refused = await client.get("/fhir/Patient", headers={"X-Tenant-ID": "t2"})
        gate.set()
        assert (await holding).status_code == 200
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    outcome = orjson.loads(refused.content)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "transient"
