"""Index extraction alone, in process: µs per resource, without and with row building.

    cd benchmarks && ../.venv/bin/python extract.py [--rounds 5] [--profile]

Runs ``extract_index_values`` with the official registry over the cached
carebundle templates (``bulkload.templates()``), then the same plus
``index_rows`` (an ``IndexValues`` turned into the tuples the store sends),
for each SQL dialect. Before timing, each bundle is given what a transaction
gives it before indexing: ids, and references rewritten from ``urn:uuid:`` to
``Type/id``. Every round walks all resources once (~70 % of them
Observations); the table shows the round with the least CPU time of this
process (``time.process_time``), the one least disturbed by other work on the
machine. Caches (compiled expressions, normalised strings) are warm, as in a
long-running store. ``--profile`` prints the top functions under cProfile.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from _common import table
from bulkload import templates
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_primary.adapters.sql.dialect import Dialect
from polyfhir_primary.adapters.sql.dialects import POSTGRES, SQLITE
from polyfhir_primary.adapters.sql.index_rows import index_rows

OWNER = ("default", "Observation", "0")


def _rewrite(value: Any, targets: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: targets.get(v, v) if k == "reference" else _rewrite(v, targets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(item, targets) for item in value]
    return value


def stored_resources(lines: list[bytes]) -> list[dict[str, Any]]:
    """The templates' resources as a transaction would index them (ids, local references)."""
    out = []
    for line in lines:
        entries = orjson.loads(line)["entry"]
        targets = {}
        for entry in entries:
            resource = entry["resource"]
            resource["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, entry["fullUrl"]))
            targets[entry["fullUrl"]] = f"{resource['resourceType']}/{resource['id']}"
        out += [_rewrite(e["resource"], targets) for e in entries]
    return out


def extract_only(registry: SearchParameterRegistry) -> Callable[[dict[str, Any]], object]:
    return lambda resource: extract_index_values(resource, registry)


def with_rows(
    registry: SearchParameterRegistry, dialect: Dialect
) -> Callable[[dict[str, Any]], object]:
    def run(resource: dict[str, Any]) -> object:
        return list(index_rows(extract_index_values(resource, registry), OWNER, dialect))

    return run


def best_round(
    work: Callable[[dict[str, Any]], object], resources: list[dict[str, Any]], rounds: int
) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for resource in resources:
            work(resource)
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one round instead")
    args = parser.parse_args()
    registry = SearchParameterRegistry.default()
    resources = stored_resources(templates())
    cases = {
        "extraction": extract_only(registry),
        "extraction + rows (sqlite)": with_rows(registry, SQLITE),
        "extraction + rows (postgresql)": with_rows(registry, POSTGRES),
    }
    for work in cases.values():  # warm the compile caches and normalize()
        for resource in resources:
            work(resource)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(best_round, cases["extraction + rows (sqlite)"], resources, 1)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return
    rows: list[list[object]] = []
    for label, work in cases.items():
        seconds = best_round(work, resources, args.rounds)
        rows.append(
            [label, len(resources), len(resources) / seconds, seconds / len(resources) * 1e6]
        )
    print(table(["work", "resources", "resources/s", "µs per resource"], rows))


if __name__ == "__main__":
    main()
