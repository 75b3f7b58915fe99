"""Regenerate the shipped SearchParameter definitions from the official R4 package.

    npm pack hl7.fhir.r4.examples@4.0.1 && tar xzf hl7.fhir.r4.examples-4.0.1.tgz
    python tools/build_search_parameters.py package/Bundle-searchParams.json

Keeps only what the registry uses (code, type, url, base, expression, target,
component, modifier, comparator, multipleOr/And, chain), one object per line.
"""

from __future__ import annotations

import json  # noqa: TID251 — a dev tool, stdlib keeps it dependency-free
import sys
from pathlib import Path

OUT = (
    Path(__file__).resolve().parents[1]
    / "libs/core/src/polyfhir_core/registry/data/search-parameters.json"
)
KEEP = ("url", "code", "type", "base", "expression", "target", "modifier", "comparator", "chain")


def main(source: str) -> None:
    bundle = json.loads(Path(source).read_text(encoding="utf-8"))
    rows = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        row = {key: resource[key] for key in KEEP if key in resource}
        if "component" in resource:
            row["component"] = [
                {"definition": c["definition"], "expression": c["expression"]}
                for c in resource["component"]
            ]
        rows.append(row)
    rows.sort(key=lambda r: r["url"])
    lines = ",\n".join(json.dumps(r, separators=(",", ":"), sort_keys=True) for r in rows)
    OUT.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
    print(f"wrote {len(rows)} SearchParameters to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
