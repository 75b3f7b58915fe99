"""The TLS diagnosis against real TLS servers (asyncio's, with throwaway certificates):
what it says for an untrusted CA, a certificate for another host, a server that hangs
up right after the handshake, and that a sound session or a closed port is no TLS
problem (the caller keeps aiokafka's own error then)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from polyfhir_bus.security import KafkaSecurity
from polyfhir_bus.tls_diagnosis import tls_refusal
from polyfhir_engines.processes import free_port
from polyfhir_testing.tls import CertificateAuthority

pytestmark = pytest.mark.integration

Serve = Callable[..., Awaitable[str]]


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path / "pki")


@pytest.fixture
async def serve(ca: CertificateAuthority) -> AsyncIterator[Serve]:
    """``await serve(hosts=..., hang_up=...)``: a TLS server on 127.0.0.1; its address."""
    servers: list[asyncio.Server] = []

    async def start(hosts: tuple[str, ...] = ("127.0.0.1",), *, hang_up: bool = False) -> str:
        files = ca.issue_server(f"server-{len(servers)}", hosts)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(files.cert, files.key)

        async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not hang_up:
                await reader.read()  # a broker speaks only when asked
            writer.close()

        server = await asyncio.start_server(session, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        return f"127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _trusting(ca: CertificateAuthority) -> KafkaSecurity:
    return KafkaSecurity(protocol="SSL", ca_file=str(ca.cert_file))


async def test_a_sound_session_is_no_tls_problem(ca: CertificateAuthority, serve: Serve) -> None:
    assert await tls_refusal(await serve(), _trusting(ca)) is None


async def test_an_untrusted_certificate_points_at_the_ca_file(
    ca: CertificateAuthority, serve: Serve, tmp_path: Path
) -> None:
    other = CertificateAuthority.create(tmp_path / "other", "other CA")
    address = await serve()
    reason = await tls_refusal(address, _trusting(other))
    assert reason == (
        f"TLS to the Kafka broker {address} failed: unable to get local issuer certificate"
        " (check the CA file)"
    )


async def test_a_certificate_for_another_host_points_at_the_bootstrap_address(
    ca: CertificateAuthority, serve: Serve
) -> None:
    address = await serve(hosts=("kafka-0.kafka.internal",))
    reason = await tls_refusal(address, _trusting(ca))
    assert reason is not None
    assert reason.startswith(f"TLS to the Kafka broker {address} failed: ")
    assert "mismatch" in reason.lower()
    assert reason.endswith(
        "(the broker's certificate does not name the address in POLYFHIR_KAFKA_BOOTSTRAP)"
    )


async def test_a_hang_up_after_the_handshake_asks_about_a_client_certificate(
    ca: CertificateAuthority, serve: Serve
) -> None:
    address = await serve(hang_up=True)
    reason = await tls_refusal(address, _trusting(ca))
    assert reason is not None
    assert "does it want a client certificate?" in reason


async def test_a_closed_port_is_no_tls_problem(ca: CertificateAuthority) -> None:
    assert await tls_refusal(f"127.0.0.1:{free_port()}", _trusting(ca)) is None
