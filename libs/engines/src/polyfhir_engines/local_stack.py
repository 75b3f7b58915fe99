"""The whole local polyglot stack as child processes: engines and every service.

``LocalStack`` starts, each on a free (or given) port of 127.0.0.1:

- the Kafka-protocol broker (Tansu) and the OpenSearch-compatible server (osmem);
- with ``embedded_postgres=True``, PostgreSQL (``PostgresEngine``) for the primary;
- ``polyfhir-primary-store`` (SQLite file by default, the embedded PostgreSQL, or
  any PostgreSQL URL) with its outbox relay publishing to the broker;
- ``polyfhir-search-indexer`` consuming the change events into osmem;
- with ``graph=True`` (``make run-stack``): FalkorDB and ``polyfhir-graph-indexer``
  consuming the same events into the reference graph (its own consumer group);
- with ``terminology=True`` (``make run-stack``): ``polyfhir-terminology-indexer``
  consuming the CodeSystem/ValueSet/ConceptMap events into its own SQLite file
  (its own consumer group; no engine process of its own);
- ``polyfhir-gateway`` on the public FHIR base, routing by a composite config
  written for this stack (the sync mode is a parameter).

``make run-stack`` (``polyfhir stack``, which keeps ``children`` running with
``supervisor.Supervisor``), the cross-service tests and the benchmarks all use
it. Each child can be stopped, killed and started again on the same port,
which is what the failure tests and the supervisor need.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import orjson

from polyfhir_engines.engine_process import EngineProcess
from polyfhir_engines.falkordb import LocalFalkorDB
from polyfhir_engines.osmem import LocalOpenSearch
from polyfhir_engines.postgres import PostgresEngine
from polyfhir_engines.processes import ChildProcess, free_port, spawn, stop, wait_http
from polyfhir_engines.tansu import LocalKafka

SEARCH_BACKEND_ID = "search"
GRAPH_BACKEND_ID = "graph"
TERMINOLOGY_BACKEND_ID = "terminology"


def graph_backend(engine_url: str, indexer_url: str) -> dict[str, Any]:
    """The graph secondary of the local stack (FalkorDB behind the graph-indexer)."""
    return {
        "id": GRAPH_BACKEND_ID,
        "role": "graph",
        "kind": "falkordb",
        "url": engine_url,
        "options": {"service_url": indexer_url},
    }


def terminology_backend(store_url: str, indexer_url: str) -> dict[str, Any]:
    """The terminology secondary of the local stack (SQLite behind the terminology-indexer)."""
    return {
        "id": TERMINOLOGY_BACKEND_ID,
        "role": "terminology",
        "kind": "sqlite",
        "url": store_url,
        "options": {"service_url": indexer_url},
    }


def composite_config(
    primary_url: str, engine_url: str, indexer_url: str, sync: dict[str, Any]
) -> dict[str, Any]:
    """The composite config of the local stack: primary + one search secondary."""
    kind = "postgresql" if primary_url.startswith("postgres") else "sqlite"
    return {
        "backends": [
            {"id": "primary", "role": "primary", "kind": kind, "url": primary_url},
            {
                "id": SEARCH_BACKEND_ID,
                "role": "search",
                "kind": "opensearch",
                "url": engine_url,
                "options": {"service_url": indexer_url},
            },
        ],
        "routing": [
            {
                "name": "full-text",
                "match": {"features": ["full_text"]},
                "target": SEARCH_BACKEND_ID,
                "fallback": "primary",
            }
        ],
        "sync": sync,
        "health": {
            # a busy engine on a loaded machine answers late, a dead one at once (refused)
            "check_interval_ms": 1000,
            "timeout_ms": 1000,
            "failure_threshold": 3,
            "success_threshold": 1,
        },
    }


@dataclass
class Service(ChildProcess):
    """One polyfhir service process, restartable on its port."""

    name: str
    command: str
    port: int
    env: dict[str, str]
    logs: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> None:
        if self.running:
            return
        self.starts += 1
        binary = Path(sys.executable).parent / self.command
        self.proc = spawn(
            [str(binary), "--host", "127.0.0.1", "--port", str(self.port)],
            self.env,
            self.logs / f"{self.name}-{self.starts}.log",
        )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 60.0, probe: str = "/livez") -> None:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not started")
        wait_http(f"{self.url}{probe}", self.proc, timeout)

    def stop(self) -> None:
        """A clean stop (SIGTERM: the service finishes what it is doing)."""
        if self.proc is not None:
            stop(self.proc)
        self.proc = None

    def kill(self) -> None:
        """A crash (SIGKILL: nothing is finished, nothing is committed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


@dataclass
class LocalStack:
    """Engines + primary-store + search-indexer + gateway; see the module docstring."""

    workdir: Path
    primary_url: str | None = None
    sync: dict[str, Any] = field(default_factory=lambda: {"mode": "asynchronous"})
    gateway_port: int | None = None
    partitions: int = 3
    extra_env: dict[str, str] = field(default_factory=dict)
    embedded_postgres: bool = False
    postgres: PostgresEngine | None = field(init=False, default=None)
    kafka: LocalKafka = field(init=False)
    opensearch: LocalOpenSearch = field(init=False)
    primary: Service = field(init=False)
    indexer: Service = field(init=False)
    gateway: Service = field(init=False)
    graph: bool = False  # FalkorDB + graph-indexer too
    falkordb: LocalFalkorDB | None = field(init=False, default=None)
    graph_indexer: Service | None = field(init=False, default=None)
    terminology: bool = False  # the terminology-indexer (on a SQLite file) too
    terminology_indexer: Service | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        if self.embedded_postgres:
            if self.primary_url:
                raise ValueError("either a primary URL or the embedded PostgreSQL, not both")
            self.postgres = PostgresEngine(self.workdir, log_dir=logs)
            self.primary_url = self.postgres.url
        self.primary_url = self.primary_url or f"sqlite:///{self.workdir / 'polyfhir.db'}"
        self.kafka = LocalKafka(log_dir=logs)
        self.opensearch = LocalOpenSearch(log_dir=logs)
        common = {"POLYFHIR_KAFKA_BOOTSTRAP": self.kafka.bootstrap, **self.extra_env}
        self.primary = Service(
            "primary-store",
            "polyfhir-primary-store",
            free_port(),
            {
                **common,
                "POLYFHIR_PRIMARY_URL": self.primary_url,
                "POLYFHIR_KAFKA_TOPIC_PARTITIONS": str(self.partitions),
            },
            logs,
        )
        self.indexer = Service(
            "search-indexer",
            "polyfhir-search-indexer",
            free_port(),
            {
                **common,
                "POLYFHIR_SEARCH_ENGINE_URL": self.opensearch.url,
                "POLYFHIR_SEARCH_ENGINE_KIND": "opensearch",
                "POLYFHIR_PRIMARY_STORE_URL": self.primary.url,  # claim checks (vread)
            },
            logs,
        )
        config_file = self.workdir / "composite.json"
        config = composite_config(
            self.primary_url, self.opensearch.url, self.indexer.url, self.sync
        )
        if self.graph:
            self._add_graph(common, logs, config)
        if self.terminology:
            self._add_terminology(common, logs, config)
        config_file.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
        for service in (self.primary, self.indexer, self.graph_indexer):
            if service is not None:  # batch sizes and retries from the one composite config
                service.env["POLYFHIR_CONFIG_FILE"] = str(config_file)
        self.gateway = Service(
            "gateway",
            "polyfhir-gateway",
            self.gateway_port or free_port(),
            {
                **self.extra_env,
                "POLYFHIR_PRIMARY_STORE_URL": self.primary.url,
                "POLYFHIR_CONFIG_FILE": str(config_file),
            },
            logs,
        )

    def _add_graph(self, common: dict[str, str], logs: Path, config: dict[str, Any]) -> None:
        self.falkordb = LocalFalkorDB(log_dir=logs)
        self.graph_indexer = Service(
            "graph-indexer",
            "polyfhir-graph-indexer",
            free_port(),
            {
                **common,
                "POLYFHIR_GRAPH_ENGINE_KIND": "falkordb",
                "POLYFHIR_GRAPH_ENGINE_URL": self.falkordb.url,
                "POLYFHIR_KAFKA_TOPIC_PARTITIONS": str(self.partitions),
            },
            logs,
        )
        config["backends"].append(graph_backend(self.falkordb.url, self.graph_indexer.url))
        # the stack shows the graph at work: chains and _has are walked on it (without
        # this rule the cost model decides, and on small data it prices the primary lower)
        walks = {"name": "walks", "match": {"features": ["chain", "has"]}}
        config["routing"].append({**walks, "target": GRAPH_BACKEND_ID, "fallback": "primary"})

    def _add_terminology(self, common: dict[str, str], logs: Path, config: dict[str, Any]) -> None:
        store_url = f"sqlite:///{self.workdir / 'terminology.db'}"
        self.terminology_indexer = Service(
            "terminology-indexer",
            "polyfhir-terminology-indexer",
            free_port(),
            {
                **common,
                "POLYFHIR_TERMINOLOGY_URL": store_url,
                "POLYFHIR_PRIMARY_STORE_URL": self.primary.url,  # claim checks (vread)
                "POLYFHIR_KAFKA_TOPIC_PARTITIONS": str(self.partitions),
            },
            logs,
        )
        config["backends"].append(terminology_backend(store_url, self.terminology_indexer.url))

    @property
    def base_url(self) -> str:
        """The public FHIR base."""
        return f"{self.gateway.url}/fhir"

    @property
    def services(self) -> tuple[Service, ...]:
        graph = () if self.graph_indexer is None else (self.graph_indexer,)
        terminology = () if self.terminology_indexer is None else (self.terminology_indexer,)
        return (self.primary, self.indexer, *graph, *terminology, self.gateway)

    @property
    def engines(self) -> tuple[EngineProcess, ...]:
        postgres = (self.postgres,) if self.postgres is not None else ()
        graph = (self.falkordb,) if self.falkordb is not None else ()
        return (*postgres, self.kafka, self.opensearch, *graph)

    @property
    def children(self) -> tuple[EngineProcess | Service, ...]:
        """Every process of the stack, in start order (what a supervisor watches)."""
        return (*self.engines, *self.services)

    def start(self) -> Self:
        for engine in self.engines:
            engine.start()
        # The gateway's dependencies start side by side; the gateway once they answer, so
        # its first health checks find every backend up (none starts out marked down).
        behind = [service for service in self.services if service is not self.gateway]
        for service in behind:
            service.start(wait=False)
        for service in behind:
            service.wait_ready()
        self.gateway.start()
        self.gateway.wait_ready(probe="/readyz")
        return self

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        for engine in reversed(self.engines):
            engine.stop()

    def logs(self) -> str:
        """The tail of every service log: attach it to a failing test's message."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted((self.workdir / "logs").glob("*.log"))
        )

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
