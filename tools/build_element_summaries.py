"""Regenerate the shipped element summary table from the official R4 StructureDefinitions.

    npm pack hl7.fhir.r4.examples@4.0.1 && tar xzf hl7.fhir.r4.examples-4.0.1.tgz
    python tools/build_element_summaries.py package/

For each resource type: its top-level elements marked ``isSummary`` and those
with ``min >= 1`` (what ``_summary`` and ``_elements`` keep).
"""

from __future__ import annotations

import json  # noqa: TID251 — a dev tool, stdlib keeps it dependency-free
import sys
from pathlib import Path

OUT = (
    Path(__file__).resolve().parents[1] / "libs/core/src/polyfhir_core/registry/data/elements.json"
)


def main(package: str) -> None:
    table = {}
    for path in sorted(Path(package).glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        if sd.get("kind") != "resource" or sd.get("derivation") != "specialization":
            continue
        summary, required = [], []
        for element in sd["snapshot"]["element"]:
            parts = element["path"].split(".")
            if len(parts) != 2:
                continue
            name = parts[1].removesuffix("[x]") + ("[x]" if parts[1].endswith("[x]") else "")
            if element.get("isSummary"):
                summary.append(name)
            if element.get("min", 0) >= 1:
                required.append(name)
        table[sd["type"]] = {"summary": summary, "required": required}
    lines = ",\n".join(
        f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in sorted(table.items())
    )
    OUT.write_text("{\n" + lines + "\n}\n", encoding="utf-8")
    print(f"wrote {len(table)} resource types to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
