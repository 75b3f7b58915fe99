"""Build a gateway over the in-process primary store with a FakeSearchIndex as its search backend."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from fakes.search_index import FakeSearchIndex
from polyfhir_core.config import parse_config
from polyfhir_core.contracts.primary_store import TenantPositions
from polyfhir_gateway.app import create_app
from polyfhir_gateway.pipeline import QueryPipeline
from polyfhir_gateway.settings import GatewaySettings

SEARCH = {
    "id": "search",
    "role": "search",
    "kind": "opensearch",
    "url": "http://127.0.0.1:9",
    "options": {"service_url": "http://127.0.0.1:9"},
}
HYBRID = {"mode": "hybrid", "timeout_ms": 500}


class Positioned:
    """The primary store, reporting the change-stream positions a test chooses."""

    def __init__(self, store: Any, positions: TenantPositions) -> None:
        self._store, self._positions = store, positions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def positions(self, ctx: Any) -> TenantPositions:
        return self._positions


@dataclass
class Gateway:
    pipeline: QueryPipeline
    fake: FakeSearchIndex
    transport: httpx.ASGITransport
    tenant: str

    def client(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url="http://testserver",
            transport=self.transport,
            headers={"accept": "application/fhir+json", "X-Tenant-ID": self.tenant, **headers},
        )

    async def patient(self, words: str, gender: str = "female", index: bool = True) -> str:
        body = {
            "resourceType": "Patient",
            "gender": gender,
            "text": {
                "status": "generated",
                "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{words}</div>',
            },
        }
        async with self.client() as c:
            created = await c.post("/fhir/Patient", json=body)
        assert created.status_code == 201, created.text
        pid: str = created.json()["id"]
        if index:
            self.fake.add(self.tenant, "Patient", pid, words)
        return pid

    async def search(self, path: str, **params: Any) -> httpx.Response:
        async with self.client() as c:
            response = await c.get(f"/fhir/{path}", params=params)
        assert response.status_code == 200, response.text
        return response


def build(
    store: Any, store_override: Any = None, extra: tuple[dict[str, Any], ...] = (), **top: Any
) -> Gateway:
    """A gateway whose composite config has a primary, ``SEARCH`` (the fake) and ``extra``."""
    top.setdefault("sync", HYBRID)
    backends = [
        {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"},
        SEARCH,
        *extra,
    ]
    config = parse_config({"backends": backends, **top})
    fake = FakeSearchIndex()
    pipeline = QueryPipeline(store_override or store, config, {"search": fake})
    app = create_app(store, GatewaySettings(), pipeline=pipeline)
    return Gateway(pipeline, fake, httpx.ASGITransport(app=app), f"t{uuid.uuid4().hex[:12]}")


def ids(response: httpx.Response) -> list[str]:
    return [
        e["resource"]["id"]
        for e in response.json().get("entry", [])
        if e["search"]["mode"] == "match"
    ]


def route(response: httpx.Response) -> str:
    return response.headers["x-polyfhir-route"]
