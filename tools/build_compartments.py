"""Regenerate the shipped compartment table from the official R4 CompartmentDefinitions.

    python tools/build_compartments.py package/

Writes ``{compartment type: {resource type: [reference parameters]}}``.
"""

from __future__ import annotations

import json  # noqa: TID251 — a dev tool, stdlib keeps it dependency-free
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "libs/core/src/polyfhir_core/registry/data/compartments.json"


def main(package: str) -> None:
    table: dict[str, dict[str, list[str]]] = {}
    for path in sorted(Path(package).glob("CompartmentDefinition-*.json")):
        definition = json.loads(path.read_text(encoding="utf-8"))
        if definition.get("url", "").startswith("http://hl7.org/fhir/CompartmentDefinition/") and (
            definition["id"] != "example"
        ):
            table[definition["code"]] = {
                r["code"]: r["param"] for r in definition["resource"] if r.get("param")
            }
    OUT.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(table)} compartments to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
