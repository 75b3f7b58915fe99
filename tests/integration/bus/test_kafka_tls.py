"""Kafka over TLS against a real broker (Tansu behind stunnel): the outbox relay publishes
and the indexers' consumer receives with the CA file and host-name verification on; a
client that does not trust the broker's certificate is refused with a reason that names
the CA file: the relay keeps the rows (transient: nothing is dead-lettered) and an
indexer does not start (one log line, the exit code of invalid configuration)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka.errors import KafkaConnectionError

from integration.bus.conftest import StartStore
from integration.bus.tls_checks import (
    indexer_consumer,
    receive_over_tls,
    relay_refusal,
    security,
    started_tls_kafka,
    store_with_relay,
    watch_relay,
    write_patients,
)
from polyfhir_bus.tls_diagnosis import KafkaTlsRefused
from polyfhir_engines.processes import free_port
from polyfhir_testing.kafka_tls import KafkaTlsSetup

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaTlsSetup]:
    yield from started_tls_kafka(tmp_path_factory.mktemp("kafka-tls"), mutual=False)


async def test_relay_publishes_and_the_indexer_consumer_receives_over_tls(
    tls_kafka: KafkaTlsSetup, start_store: StartStore, tenant: str
) -> None:
    settings = tls_kafka.settings()
    context = security(settings).ssl_context()
    assert context is not None
    assert context.check_hostname  # the certificate must name 127.0.0.1
    app = await store_with_relay(start_store, tls_kafka, settings)
    await write_patients(app, tenant, "p1", "p2")
    await receive_over_tls(tls_kafka, settings, tenant, {"p1", "p2"})
    assert await app.database.outbox_backlog() == 0


async def test_a_relay_trusting_another_ca_is_refused_and_keeps_the_rows(
    tls_kafka: KafkaTlsSetup,
    start_store: StartStore,
    tenant: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch_relay(caplog)
    app = await store_with_relay(start_store, tls_kafka, tls_kafka.settings(ca=tls_kafka.wrong_ca))
    await write_patients(app, tenant, "p1")
    line = await relay_refusal(caplog, "check the CA file")
    assert f"TLS to the Kafka broker {tls_kafka.bootstrap} failed" in line
    assert "certificate" in line  # the verification failure itself
    assert "retrying" in line  # transient: an operator fixes the CA file, the rows drain
    assert await app.database.outbox_backlog() == 1  # kept, not dead-lettered


async def test_a_consumer_trusting_another_ca_does_not_start(
    tls_kafka: KafkaTlsSetup, tenant: str
) -> None:
    consumer = indexer_consumer(tls_kafka, tls_kafka.settings(ca=tls_kafka.wrong_ca), tenant, set())
    with pytest.raises(KafkaTlsRefused, match="check the CA file"):
        await consumer.start()
    await consumer.stop()


async def test_a_plaintext_client_cannot_use_the_tls_port(
    tls_kafka: KafkaTlsSetup, tenant: str
) -> None:
    consumer = indexer_consumer(tls_kafka, {}, tenant, set())
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        await consumer.start()
    await consumer.stop()


def test_an_indexer_that_does_not_trust_the_broker_stops_with_one_line_and_exit_code_3(
    tls_kafka: KafkaTlsSetup, tmp_path: Path
) -> None:
    settings = tls_kafka.settings(ca=tls_kafka.wrong_ca)
    env = {
        "PATH": "/usr/bin:/bin",
        "POLYFHIR_TERMINOLOGY_URL": f"sqlite:///{tmp_path}/terminology.db",
        "POLYFHIR_KAFKA_BOOTSTRAP": tls_kafka.bootstrap,
        "POLYFHIR_PORT": str(free_port()),
        **{f"POLYFHIR_{key.upper()}": value for key, value in settings.items()},
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "polyfhir-terminology-indexer")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    last = orjson.loads(done.stderr.strip().splitlines()[-1])
    assert (last["level"], last["exit_code"]) == ("critical", 3)
    assert last["msg"].startswith("TLS refused: TLS to the Kafka broker")
    assert last["msg"].endswith("(check the CA file)")
