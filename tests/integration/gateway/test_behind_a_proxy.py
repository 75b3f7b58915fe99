"""Behind a TLS-terminating proxy: Location and paging links carry the public base,
from POLYFHIR_BASE_URL or from X-Forwarded-* sent by a trusted proxy only."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from polyfhir_gateway.app import create_app
from polyfhir_gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration

FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "fhir.example.org",
    "X-Forwarded-Prefix": "/api",
    "X-Forwarded-For": "203.0.113.7",
}


async def _client(store_app: Any, settings: GatewaySettings, peer: str) -> httpx.AsyncClient:
    app = create_app(store_app.service, settings)
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    tenant = f"proxy-{uuid.uuid4().hex[:8]}"
    return httpx.AsyncClient(
        transport=transport, base_url="http://gateway:8080/fhir", headers={"X-Tenant-ID": tenant}
    )


async def _links(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, list[str]]:
    """The Location of a create and the links of a search that has a next page."""
    for _ in range(2):
        created = await client.post("/Patient", json={"resourceType": "Patient"}, headers=headers)
        assert created.status_code == 201, created.text
    page = await client.get("/Patient", params={"_count": 1}, headers=headers)
    assert page.status_code == 200
    links = [link["url"] for link in page.json()["link"]]
    assert {link["relation"] for link in page.json()["link"]} >= {"self", "next"}
    return created.headers["Location"], links


@pytest.fixture
def trusting(store_app: Any) -> tuple[Any, GatewaySettings]:
    return store_app, GatewaySettings(forwarded_allow_ips="10.0.0.0/8, 127.0.0.1")


async def test_forwarded_headers_from_a_trusted_proxy_make_the_links_public(
    trusting: tuple[Any, GatewaySettings],
) -> None:
    store_app, settings = trusting
    async with await _client(store_app, settings, "10.1.2.3") as client:
        location, links = await _links(client, FORWARDED)
    public = "https://fhir.example.org/api/fhir/"
    assert location.startswith(public + "Patient/")
    assert links and all(url.startswith(public + "Patient") for url in links)


async def test_forwarded_headers_from_anyone_else_are_ignored(
    trusting: tuple[Any, GatewaySettings],
) -> None:
    store_app, settings = trusting
    async with await _client(store_app, settings, "192.0.2.50") as client:
        location, links = await _links(client, FORWARDED)
    assert location.startswith("http://gateway:8080/fhir/Patient/")
    assert all(url.startswith("http://gateway:8080/fhir/") for url in links)


async def test_without_trusted_proxies_no_forwarded_header_counts(store_app: Any) -> None:
    async with await _client(store_app, GatewaySettings(), "127.0.0.1") as client:
        location, _ = await _links(client, FORWARDED)
    assert location.startswith("http://gateway:8080/fhir/Patient/")


async def test_a_configured_public_base_url_wins(store_app: Any) -> None:
    settings = GatewaySettings(base_url="https://fhir.example.org/r4", forwarded_allow_ips="*")
    async with await _client(store_app, settings, "10.1.2.3") as client:
        location, links = await _links(client, {**FORWARDED, "X-Forwarded-Host": "evil.example"})
    assert location.startswith("https://fhir.example.org/r4/Patient/")
    assert all(url.startswith("https://fhir.example.org/r4/Patient") for url in links)
