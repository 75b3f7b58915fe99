"""Regenerate the shipped HL7 R4 code systems, value sets and concept maps.

    npm pack hl7.fhir.r4.examples@4.0.1 && tar xzf hl7.fhir.r4.examples-4.0.1.tgz
    python tools/build_hl7_terminology.py package

(``hl7.fhir.r4.core@4.0.1`` is not on the npm registry; the examples package holds
every definition of the specification as ``CodeSystem-*.json``, ``ValueSet-*.json``
and ``ConceptMap-*.json``.) Kept: every CodeSystem, ValueSet and ConceptMap of the
specification, without the narrative (``text``: generated HTML, ~70% of the bytes).
Left out: the specification's example resources (ids ``example``, ``example2``,
``example-*``), CodeSystem supplements, and ``content: not-present`` stubs (SNOMED CT,
the summary system): loading a stub would make a terminology server claim a system
whose codes it does not have; and concepts whose code is not a valid FHIR ``code``
(v2-0550 has four with a stray no-break space, ``"CHESTÂ\u00a0"``, which the
server rightly refuses with a 400): the rest of their CodeSystem is kept. Written as
one gzip'd NDJSON, sorted by type and id, with a fixed gzip mtime so a rebuild of the
same package is byte-identical.
"""

from __future__ import annotations

import gzip
import json  # noqa: TID251 — a dev tool, stdlib keeps it dependency-free
import re
import sys
from pathlib import Path

OUT = (
    Path(__file__).resolve().parents[1]
    / "src/polyfhir/terminology/data/hl7-r4-terminology.ndjson.gz"
)
TYPES = ("CodeSystem", "ValueSet", "ConceptMap")
EXAMPLE_ID = re.compile(r"example(\d*|-.*)")
FHIR_CODE = re.compile(r"[^\s]+( [^\s]+)*")  # R4 datatypes: code (\s: Unicode whitespace)


def keep(resource: dict[str, object]) -> bool:
    if EXAMPLE_ID.fullmatch(str(resource.get("id", ""))):
        return False
    return resource.get("content") not in ("supplement", "not-present")


Concepts = list[dict[str, object]]


def valid_concepts(concepts: Concepts, dropped: list[str]) -> Concepts:
    kept = []
    for concept in concepts:
        code = concept.get("code")
        if not isinstance(code, str) or not FHIR_CODE.fullmatch(code):
            dropped.append(repr(code))
            continue
        children = concept.get("concept")
        if isinstance(children, list):
            concept["concept"] = valid_concepts(children, dropped)
        kept.append(concept)
    return kept


def main(package: str) -> None:
    rows = []
    for rtype in TYPES:
        for path in sorted(Path(package).glob(f"{rtype}-*.json")):
            resource = json.loads(path.read_text(encoding="utf-8"))
            if resource.get("resourceType") != rtype or not keep(resource):
                continue
            resource.pop("text", None)
            if isinstance(resource.get("concept"), list) and rtype == "CodeSystem":
                dropped: list[str] = []
                resource["concept"] = valid_concepts(resource["concept"], dropped)
                if dropped:
                    print(f"{resource['id']}: dropped invalid codes {', '.join(dropped)}")
            rows.append(json.dumps(resource, separators=(",", ":"), ensure_ascii=False))
    data = ("\n".join(rows) + "\n").encode("utf-8")
    OUT.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    print(f"wrote {len(rows)} resources ({len(data)} bytes, {OUT.stat().st_size} gzip'd) to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
