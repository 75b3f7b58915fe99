"""The generic server and client proxy over HTTP in memory (httpx ASGITransport: no socket):
every call's arguments and result round-trip with their types, errors arrive as the same
type, bad calls are 4xx OperationOutcomes, and waiting calls get a longer HTTP timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from fakes.contract_samples import SAMPLES
from polyfhir_core.contracts.contract import Call, Contract
from polyfhir_core.contracts.graph_index import GRAPH_INDEX
from polyfhir_core.contracts.primary_store import PRIMARY_STORE, PrimaryStore
from polyfhir_core.contracts.search_index import SEARCH_INDEX, SearchIndex
from polyfhir_core.contracts.terminology import TERMINOLOGY_INDEX
from polyfhir_core.errors import (
    BadRequest,
    Conflict,
    FhirError,
    Gone,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
)
from polyfhir_core.tenancy import TenantContext
from polyfhir_servicekit.contract_client import WAIT_GRACE_S, contract_client, http_timeout
from polyfhir_servicekit.contract_server import ServedContract
from polyfhir_servicekit.internal_app import create_internal_app

BASE = "http://service"
ACME = TenantContext.of("acme")


class Recorder:
    """Answers every call with ``result`` (or raises ``error``), remembering the arguments."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.result: Any = None
        self.error: Exception | None = None

    def __getattr__(self, name: str) -> Any:
        async def call(**args: Any) -> Any:
            self.received.append((name, args))
            if self.error is not None:
                raise self.error
            return self.result

        return call

    async def check_ready(self) -> None:
        if self.error is not None:
            raise self.error


def _every_call() -> Iterator[tuple[Contract[Any], Call]]:
    for contract in (PRIMARY_STORE, SEARCH_INDEX, GRAPH_INDEX, TERMINOLOGY_INDEX):
        for call in contract.calls.values():
            yield contract, call


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def http(recorder: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    served = [
        ServedContract(PRIMARY_STORE, recorder),
        ServedContract(SEARCH_INDEX, recorder),
        ServedContract(GRAPH_INDEX, recorder),
        ServedContract(TERMINOLOGY_INDEX, recorder),
    ]
    app = create_internal_app("test-service", served, recorder.check_ready)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
def store(http: httpx.AsyncClient) -> PrimaryStore:
    return contract_client(PRIMARY_STORE, BASE, http)


@pytest.fixture
def index(http: httpx.AsyncClient) -> SearchIndex:
    return contract_client(SEARCH_INDEX, BASE, http)


def test_every_contract_type_has_a_sample() -> None:
    kinds = {p.kind for _, c in _every_call() for p in c.parameters} | {
        c.result for _, c in _every_call()
    }
    assert kinds - SAMPLES.keys() == set()


@pytest.mark.parametrize(
    ("contract", "call"), list(_every_call()), ids=lambda v: getattr(v, "name", repr(v))
)
async def test_every_call_round_trips_its_arguments_and_result(
    http: httpx.AsyncClient, recorder: Recorder, contract: Contract[Any], call: Call
) -> None:
    client = contract_client(contract, BASE, http)
    args = {p.name: SAMPLES[p.kind] for p in call.parameters}
    recorder.result = SAMPLES[call.result]
    result = await getattr(client, call.name)(*args.values())  # positionally, as callers do
    assert recorder.received == [(call.name, args)]
    assert result == SAMPLES[call.result]


async def test_the_clients_honour_their_protocols(store: PrimaryStore, index: SearchIndex) -> None:
    assert isinstance(store, PrimaryStore)
    assert isinstance(index, SearchIndex)
    assert "PrimaryStore" in repr(store)


async def test_keyword_arguments_and_defaults_bind_like_the_protocol(
    index: SearchIndex, recorder: Recorder
) -> None:
    recorder.result = []
    await index.scan(limit=5, after=None, ctx=ACME)
    assert recorder.received == [("scan", {"ctx": ACME, "after": None, "limit": 5})]
    scan: Any = index.scan  # called as a caller without mypy would
    with pytest.raises(TypeError):
        await scan(ACME, None)  # ``limit`` is missing


@pytest.mark.parametrize(
    "error",
    [
        NotFound("Patient/x is not known"),
        Gone("Patient/x was deleted"),
        Conflict("version conflict"),
        PreconditionFailed('If-Match W/"1" does not match'),
        BadRequest("bad search parameter"),
        ServiceUnavailable("engine down"),
    ],
)
async def test_an_error_arrives_as_the_same_type(
    store: PrimaryStore, recorder: Recorder, error: FhirError
) -> None:
    recorder.error = error
    with pytest.raises(type(error)) as raised:
        await store.read(ACME, "Patient", "x")
    assert type(raised.value) is type(error)
    assert raised.value.message == error.message
    assert raised.value.status == error.status


async def test_a_crash_in_the_service_is_a_500_at_the_caller_never_a_transient_503(
    store: PrimaryStore, recorder: Recorder
) -> None:
    recorder.error = RuntimeError("bug")
    with pytest.raises(FhirError) as raised:
        await store.read(ACME, "Patient", "x")
    assert raised.value.status == 500
    assert not isinstance(raised.value, ServiceUnavailable)


def _answering(status: int, body: bytes, content_type: str = "text/plain") -> PrimaryStore:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return contract_client(PRIMARY_STORE, "http://store", http)


async def test_a_bare_500_is_a_500_not_a_transient_503() -> None:
    with pytest.raises(FhirError) as raised:
        await _answering(500, b"Internal Server Error").read(ACME, "Patient", "x")
    assert raised.value.status == 500
    assert not isinstance(raised.value, ServiceUnavailable)
    assert raised.value.outcome()["issue"][0]["code"] == "exception"


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_statuses_without_an_outcome_are_transient(status: int) -> None:
    with pytest.raises(ServiceUnavailable):
        await _answering(status, b"").read(ACME, "Patient", "x")


async def _outcome(response: httpx.Response, status: int) -> str:
    assert response.status_code == status
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["diagnostics"])


async def test_an_unknown_call_is_404(http: httpx.AsyncClient) -> None:
    response = await http.post("/internal/v1/store/drop_database", json={})
    assert "no call 'drop_database'" in await _outcome(response, 404)
    response = await http.post("/internal/v1/store/check_ready", json={})  # the probe is no call
    await _outcome(response, 404)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b"{}", "missing argument 'ctx'"),
        (b'{"ctx": {"tenant": {"value": "acme"}}}', "missing argument 'resource_type'"),
        (
            b'{"ctx": {"tenant": {"value": "acme"}}, "resource_type": "P", "id": "1", "x": 1}',
            "unknown arguments ['x']",
        ),
        (b'{"ctx": {"tenant": {"value": "acme"}}, "resource_type": 5, "id": "1"}', "resource_type"),
        (b'{"ctx": {"tenant": {"value": "../x"}}, "resource_type": "P", "id": "1"}', "tenant id"),
    ],
)
async def test_a_malformed_body_is_400(
    http: httpx.AsyncClient, recorder: Recorder, body: bytes, why: str
) -> None:
    response = await http.post("/internal/v1/store/read", content=body)
    assert why in await _outcome(response, 400)
    assert recorder.received == []


async def test_probes_and_metrics_are_served(
    http: httpx.AsyncClient, store: PrimaryStore, recorder: Recorder
) -> None:
    assert (await http.get("/livez")).status_code == 200
    await store.check_ready()
    assert "polyfhir_http_request_seconds" in (await http.get("/metrics")).text
    recorder.error = ServiceUnavailable("database down")
    assert (await http.get("/readyz")).status_code == 503
    with pytest.raises(ServiceUnavailable, match="not ready"):
        await store.check_ready()


def test_a_waiting_call_gets_its_wait_plus_a_grace_as_http_timeout() -> None:
    assert http_timeout({"ctx": ACME}, 30.0) == 30.0
    assert http_timeout({"timeout_ms": 100}, 30.0) == 30.0  # a short wait keeps the default
    assert http_timeout({"timeout_ms": 60_000}, 30.0) == 60.0 + WAIT_GRACE_S


async def test_the_timeout_rule_reaches_the_request_and_transport_failures_are_unavailable() -> (
    None
):
    timeouts: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/stats"):
            raise httpx.ConnectError("connection refused", request=request)
        timeouts.append(request.extensions["timeout"]["read"])
        return httpx.Response(200, json=True)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        index = contract_client(SEARCH_INDEX, BASE, http, timeout=10.0)
        assert await index.wait_positions(ACME, {0: 1}, 120_000)
        assert await index.wait_applied(ACME, [], 1_000)
        assert timeouts == [120.0 + WAIT_GRACE_S, 10.0]
        with pytest.raises(ServiceUnavailable, match="search index unreachable"):
            await index.stats(ACME)
