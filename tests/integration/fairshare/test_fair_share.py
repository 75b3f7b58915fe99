"""Fair share over the API: a tenant over its rate or its heavy-work bound gets 429 with
``Retry-After`` and an OperationOutcome; other tenants go on being served."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson
import pytest

from bulk_client import ASYNC
from conftest import Server
from polyfhir.bulk_cli import import_parameters
from polyfhir_engines.processes import free_port
from support import eventually

pytestmark = pytest.mark.integration

BURST = 6  # LIMITS["default"]["burst"] in this folder's conftest


def _tenant(prefix: str = "fair") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def _assert_throttled(response: httpx.Response, most_s: int) -> None:
    assert response.status_code == 429, response.text
    retry = int(response.headers["retry-after"])
    assert 1 <= retry <= most_s
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "throttled"


async def _spend(client: httpx.AsyncClient, requests: int) -> list[int]:
    return [
        (await client.get("/Patient", params={"name": "x"})).status_code for _ in range(requests)
    ]


async def test_a_tenant_over_its_rate_gets_429_and_another_is_served(
    limited_server: Server,
) -> None:
    async with limited_server.client(_tenant()) as noisy, limited_server.client(_tenant()) as quiet:
        assert await _spend(noisy, BURST) == [200] * BURST
        over = await noisy.get("/Patient", params={"name": "x"})
        _assert_throttled(over, most_s=20)  # one token per 20 s
        assert (await noisy.get("/Patient/nothing-here")).status_code == 429  # reads too
        assert (await quiet.get("/Patient", params={"name": "x"})).status_code == 200
        # what a client needs whatever its budget stays open
        assert (await noisy.get("/metadata")).status_code == 200


async def test_an_override_gives_a_tenant_and_its_subtree_a_larger_budget(
    limited_server: Server,
) -> None:
    async with limited_server.client(f"roomy/{_tenant()}") as roomy:
        assert await _spend(roomy, BURST + 4) == [200] * (BURST + 4)


async def test_throttling_is_counted_per_tenant_in_the_metrics(limited_server: Server) -> None:
    tenant = _tenant()
    async with limited_server.client(tenant) as client:
        await _spend(client, BURST + 1)
    async with httpx.AsyncClient(
        base_url=limited_server.base_url, transport=limited_server.transport
    ) as ops:
        metrics = (await ops.get("/metrics")).text
    line = re.search(
        rf'polyfhir_tenant_throttled_total\{{limit="rate",tenant="{tenant}"\}} (\S+)', metrics
    )
    assert line is not None, "the throttled counter names the tenant and the limit"
    assert float(line.group(1)) >= 1


class _HeldBody:
    """A request body that stops after its first chunk until released: a request in flight."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        half = len(self.body) // 2
        yield self.body[:half]
        self.started.set()
        await self.release.wait()
        yield self.body[half:]


def _transaction() -> bytes:
    entry = {
        "resource": {"resourceType": "Patient", "name": [{"family": "Held"}]},
        "request": {"method": "POST", "url": "Patient"},
    }
    return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [entry]})


async def test_a_second_heavy_request_of_a_tenant_waits_for_the_first(
    limited_server: Server,
) -> None:
    tenant = _tenant()
    held = _HeldBody(_transaction())
    async with (
        limited_server.client(tenant) as client,
        limited_server.client(_tenant()) as other,
    ):
        first = asyncio.create_task(
            client.post("/", content=held, headers={"content-type": "application/fhir+json"})
        )
        await asyncio.wait_for(held.started.wait(), 30)
        heavy = await client.get("/Observation", params={"subject:Patient.name": "x"})
        while heavy.status_code != 429 and not first.done():
            # the held bundle may not have reached the gateway's middleware yet
            heavy = await client.get("/Observation", params={"subject:Patient.name": "x"})
        _assert_throttled(heavy, most_s=2)
        assert "heavy" in heavy.json()["issue"][0]["diagnostics"]
        form = await client.post("/Patient/_search", data={"_content": "x"})
        _assert_throttled(form, most_s=2)  # a POST _search form is classified by its body
        light = await client.get("/Patient", params={"name": "x"})
        assert light.status_code == 200  # light work is not held back by heavy work
        chained = await other.get("/Observation", params={"subject:Patient.name": "x"})
        assert chained.status_code == 200  # another tenant's heavy work is not either
        held.release.set()
        assert (await first).status_code == 200
    async with limited_server.client(tenant) as client:
        after = await client.get("/Observation", params={"subject:Patient.name": "x"})
        assert after.status_code == 200  # the slot was given back


async def test_a_posted_search_form_reaches_the_search_intact(limited_server: Server) -> None:
    async with limited_server.client(_tenant()) as client:
        created = await client.post(
            "/Patient", json={"resourceType": "Patient", "name": [{"family": "Formfield"}]}
        )
        assert created.status_code == 201, created.text
        found = await client.post("/Patient/_search", data={"family": "Formfield"})
        assert found.status_code == 200, found.text
        assert [e["resource"]["id"] for e in found.json()["entry"]] == [created.json()["id"]]


async def test_requests_beyond_the_slots_wait_their_turn_and_are_all_served(
    limited_server: Server,
) -> None:
    """Twice as many requests at once as the replica has slots (conftest MAX_IN_FLIGHT),
    from three tenants: queued, never refused; the queue is empty afterwards."""
    tenants = [f"roomy/{_tenant()}" for _ in range(3)]
    async with (
        limited_server.client(tenants[0]) as a,
        limited_server.client(tenants[1]) as b,
        limited_server.client(tenants[2]) as c,
    ):
        answers = await asyncio.gather(
            *(
                client.get("/Patient", params={"name": "x"})
                for client in (a, b, c)
                for _ in range(4)
            )
        )
        assert [r.status_code for r in answers] == [200] * 12
    async with httpx.AsyncClient(
        base_url=limited_server.base_url, transport=limited_server.transport
    ) as ops:
        metrics = (await ops.get("/metrics")).text
    waiting = re.findall(r'^polyfhir_tenant_queued\{tenant="roomy"\} (\S+)$', metrics, re.M)
    assert waiting in ([], ["0.0"])  # nobody left waiting (no line: never queued here)


@dataclass
class HeldInput:
    """An NDJSON file over HTTP whose body is sent only once ``release`` is set: an
    ``$import`` reading it stays running until then."""

    url: str
    requested: threading.Event
    release: threading.Event


@pytest.fixture
def held_input() -> Iterator[HeldInput]:
    requested, release = threading.Event(), threading.Event()
    body = b'{"resourceType": "Patient", "id": "held", "gender": "other"}\n'

    class Held(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.set()
            release.wait(120)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Held)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield HeldInput(f"http://127.0.0.1:{httpd.server_address[1]}/p.ndjson", requested, release)
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _import_of(url: str) -> dict[str, object]:
    return import_parameters([{"type": "Patient", "url": url}])


async def test_a_job_kick_off_over_the_running_jobs_bound_is_429(
    limited_server: Server, held_input: HeldInput
) -> None:
    async with limited_server.client(f"onejob/{_tenant()}") as fhir:
        first = await fhir.post("/$import", json=_import_of(held_input.url), headers=ASYNC)
        assert first.status_code == 202, first.text
        assert await asyncio.to_thread(held_input.requested.wait, 60)  # the job is running
        second = await fhir.post("/$import", json=_import_of(held_input.url), headers=ASYNC)
        _assert_throttled(second, most_s=2)
        held_input.release.set()

        async def finished() -> bool | None:
            status = await fhir.get(first.headers["content-location"])
            return True if status.status_code == 200 else None

        await eventually(finished, within=60.0, what="the first import's manifest")
        third = await fhir.post("/$import", json=_import_of(held_input.url), headers=ASYNC)
        assert third.status_code == 202, third.text  # the bound counts running jobs only
        assert (await fhir.get("/Patient/held")).json()["gender"] == "other"
