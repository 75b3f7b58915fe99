"""``osmem-server``, an in-memory OpenSearch-compatible server; both opensearch-py
and elasticsearch-py talk to it. A restart empties it."""

from __future__ import annotations

import os

from polyfhir_engines.engine_process import EngineProcess


class LocalOpenSearch(EngineProcess):
    """osmem-server on 127.0.0.1:``port``; ``url`` is the address for the clients."""

    name = "osmem"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        from osmem_server import resolve_binary

        return [
            resolve_binary(),
            "-addr",
            f"127.0.0.1:{self.port}",
            "-parent-pid",
            str(os.getpid()),
            "-no-ja",
        ]
