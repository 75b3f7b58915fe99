"""``polyfhir stack`` (``make run-stack``): the whole local polyglot stack in one command.

Starts the Tansu broker and osmem-server (both in memory), the primary-store
(SQLite under the data directory, an embedded PostgreSQL with ``--postgres``,
or the server ``--primary-url`` names) with its outbox relay, the
search-indexer, FalkorDB and the graph-indexer, the terminology-indexer (on a
SQLite file in the data directory), and the gateway, each a child
process, and serves the FHIR API on the same base URL as ``make run``. A child
that dies is restarted with bounded backoff (``polyfhir_engines.supervisor``);
each restart is one JSON log line. Ctrl-C stops everything.

The engines keep nothing across runs, so the default data directory is a
fresh temporary one. ``--data DIR`` keeps the primary between runs; after a
restart the search index is empty and full-text queries fall back to the
primary until ``POST /admin/backends/search/rebuild`` (per tenant) refills it.
"""

from __future__ import annotations

import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from polyfhir_engines.local_stack import LocalStack
from polyfhir_engines.supervisor import Supervisor

SYNC_MODES: dict[str, dict[str, Any]] = {
    "asynchronous": {"mode": "asynchronous"},
    "synchronous": {"mode": "synchronous"},
    "hybrid": {"mode": {"kind": "hybrid", "sync_for_search": True}},
}


def run_stack(
    port: int, data: str | None, primary_url: str | None, sync: str, *, postgres: bool = False
) -> int:
    workdir = Path(data) if data else Path(tempfile.mkdtemp(prefix="polyfhir-stack-"))
    stack = LocalStack(
        workdir,
        primary_url=primary_url,
        sync=SYNC_MODES[sync],
        gateway_port=port,
        embedded_postgres=postgres,
        graph=True,
        terminology=True,
    )
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(f"starting the polyglot stack in {workdir} ...", flush=True)
    with stack:
        terminology = stack.terminology_indexer
        print(
            f"FHIR API  {stack.base_url}\n"
            f"  primary-store  {stack.primary.url}  ({stack.primary_url})\n"
            f"  search-indexer {stack.indexer.url}\n"
            f"  broker         {stack.kafka.bootstrap} (Tansu, memory)\n"
            f"  search engine  {stack.opensearch.url} (osmem, memory)\n"
            f"  graph-indexer  {stack.graph_indexer.url if stack.graph_indexer else '-'}\n"
            f"  graph engine   {stack.falkordb.url if stack.falkordb else '-'} (FalkorDB, memory)\n"
            f"  terminology    {terminology.url if terminology else '-'} (SQLite, data directory)\n"
            f"  sync mode      {sync}; logs in {workdir / 'logs'}\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        supervisor = Supervisor(stack.children)
        if not supervisor.run(stopping):
            print(f"{', '.join(supervisor.gave_up)} keeps exiting; see {workdir / 'logs'}")
            return 1
    print("stopped", flush=True)
    return 0
