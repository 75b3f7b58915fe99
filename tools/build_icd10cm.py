"""Write ICD-10-CM as an R4 CodeSystem (JSON) from the installed ``simple-icd-10-cm`` package.

    python tools/build_icd10cm.py [OUT.json] [--chapter 1 --chapter 2 ...]

The whole system is ~98,500 concepts and ~10 MB of JSON, so it is not committed:
``polyfhir terminology load icd10cm`` builds the same resource in memory, and this
tool writes it to a file for other servers or for inspection (``--chapter`` keeps
only those chapters: a ``content: fragment`` slice). The conversion is
:mod:`polyfhir.terminology.icd10cm`; the data is the CDC/NCHS tabular list the
package ships (public domain; the package's code is MIT).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from polyfhir.terminology.icd10cm import installed_codesystem


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out", nargs="?", default="icd-10-cm.json")
    parser.add_argument("--chapter", action="append", default=[], help="keep only this chapter")
    args = parser.parse_args(argv)
    chapters = set(args.chapter)
    codesystem = installed_codesystem(keep=(lambda c: c in chapters) if chapters else None)
    Path(args.out).write_bytes(orjson.dumps(codesystem))
    print(f"wrote ICD-10-CM {codesystem['version']}: {codesystem['count']} concepts to {args.out}")


if __name__ == "__main__":
    main()
