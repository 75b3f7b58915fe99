"""Why a Kafka client cannot connect over TLS, in one sentence an operator can act on.

aiokafka reports a refused TLS handshake as ``KafkaConnectionError("Unable to bootstrap
from [...]")``, the same as a broker that is simply down; the certificate problem is
only in a separate log line of aiokafka's. After such a failure, :func:`tls_refusal`
opens one TLS connection to the first bootstrap server with the client's own
``ssl.SSLContext`` and names the reason (an untrusted or mismatched broker
certificate, a client certificate the broker wants and did not get or does not
accept). :func:`polyfhir_bus.kafka.ensure_topics` (the relay's first step and every
indexer consumer's) raises it as :class:`KafkaTlsRefused`.

It stays a connection failure, i.e. *transient* for the outbox relay
(:func:`polyfhir_bus.kafka.is_permanent` is about one record): the rows wait in the
outbox while an operator fixes the CA file or the client certificate, then drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from polyfhir_bus.security import KafkaSecurity

HANDSHAKE_TIMEOUT_S = 5.0
# TLS 1.3: the broker checks the client certificate after the client's handshake has
# finished, so its refusal arrives as an alert on the first read
ALERT_WAIT_S = 0.5
# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH
NAME_MISMATCH = frozenset({62, 64})


class KafkaTlsRefused(ssl.SSLError):
    """The broker's TLS endpoint refused this client (or this client refused the broker).

    An ``ssl.SSLError``: a service that cannot start because of it exits with the reason
    as its one log line and the exit code of invalid configuration (3,
    ``polyfhir_servicekit.startup``): a CA file or a certificate must change.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:  # OSError would show the args tuple
        return self.reason


def first_server(bootstrap: str) -> tuple[str, int]:
    """``host``, ``port`` of the first entry of a bootstrap list (``host:port,...``)."""
    entry = bootstrap.split(",", maxsplit=1)[0].strip()
    host, colon, port = entry.rpartition(":")
    if not colon or not port.isdigit():  # no port given: Kafka's default
        return entry.strip("[]") or "localhost", 9092
    return host.strip("[]") or "localhost", int(port)


async def tls_refusal(bootstrap: str, security: KafkaSecurity) -> str | None:
    """The reason TLS to the first bootstrap server fails, or None when TLS is not the
    problem (no TLS configured, the server unreachable, or the handshake fine)."""
    context = security.ssl_context()
    if context is None:
        return None
    host, port = first_server(bootstrap)
    where = f"{host}:{port}"
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host),
            HANDSHAKE_TIMEOUT_S,
        )
    except ssl.SSLCertVerificationError as exc:
        return f"TLS to the Kafka broker {where} failed: {exc.verify_message} ({_hint(exc)})"
    except ssl.SSLError as exc:
        return f"TLS to the Kafka broker {where} failed: {exc.reason or exc}"
    except (OSError, TimeoutError):
        return None
    try:
        return await _refused_after_handshake(reader, where)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def _hint(error: ssl.SSLCertVerificationError) -> str:
    if error.verify_code in NAME_MISMATCH:
        return "the broker's certificate does not name the address in POLYFHIR_KAFKA_BOOTSTRAP"
    return "check the CA file"


async def _refused_after_handshake(reader: asyncio.StreamReader, where: str) -> str | None:
    try:
        data = await asyncio.wait_for(reader.read(1), ALERT_WAIT_S)
    except ssl.SSLError as exc:
        reason = (exc.reason or str(exc)).lower().replace("_", " ")
        return f"the Kafka broker {where} refused the TLS session: {reason}"
    except (OSError, TimeoutError):
        return None  # nothing said: the session stands (a broker speaks only when asked)
    if data:
        return None
    return (
        f"the Kafka broker {where} closed the connection right after the TLS handshake"
        " (does it want a client certificate?)"
    )
