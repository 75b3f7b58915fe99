"""What ``polyfhir terminology load`` reads: files, folders and the two named sources.

- ``hl7``: the HL7 R4 code systems, value sets and concept maps shipped in
  ``data/hl7-r4-terminology.ndjson.gz`` (built by ``tools/build_hl7_terminology.py``);
- ``icd10cm``: ICD-10-CM built in memory from the installed ``simple-icd-10-cm``
  package (:mod:`polyfhir.terminology.icd10cm`);
- a file: one resource or a Bundle (``.json``), one resource a line (``.ndjson``),
  either gzip'd (``.gz``);
- a folder: every such file in it and below, in name order.

Only CodeSystem, ValueSet and ConceptMap are loaded; other resources (a folder of a
whole FHIR package holds examples of every type) are counted as skipped. Anything
unreadable is an :class:`InputError` naming the file (and line), raised before a
single request is sent.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

Json = dict[str, Any]

TERMINOLOGY_TYPES = frozenset({"CodeSystem", "ValueSet", "ConceptMap"})
HL7_BUNDLE = Path(__file__).parent / "data" / "hl7-r4-terminology.ndjson.gz"
NAMED_SOURCES = ("hl7", "icd10cm")
_SUFFIXES = (".json", ".ndjson", ".json.gz", ".ndjson.gz")


class InputError(ValueError):
    """A source that cannot be read as FHIR JSON: the message names where."""


@dataclass
class Inputs:
    """The terminology resources read from every source, and how many others were skipped."""

    resources: list[Json] = field(default_factory=list)
    skipped: int = 0

    def add(self, resource: Any, where: str) -> None:
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise InputError(f"{where}: not a FHIR resource (no resourceType)")
        rtype = resource["resourceType"]
        if rtype == "Bundle":
            for n, entry in enumerate(resource.get("entry") or []):
                inner = entry.get("resource") if isinstance(entry, dict) else None
                if inner is not None:
                    self.add(inner, f"{where} entry {n}")
        elif rtype in TERMINOLOGY_TYPES:
            self.resources.append(resource)
        else:
            self.skipped += 1


def _text(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.name.endswith(".gz") else raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{path}: cannot read it ({exc})") from exc


def _parse(raw: bytes, where: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{where}: not JSON ({exc})") from exc


def read_file(path: Path, inputs: Inputs) -> None:
    raw = _text(path)
    if path.name.removesuffix(".gz").endswith(".ndjson"):
        for n, line in enumerate(raw.splitlines(), start=1):
            if line.strip():
                inputs.add(_parse(line, f"{path} line {n}"), f"{path} line {n}")
    else:
        inputs.add(_parse(raw, str(path)), str(path))


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name.endswith(_SUFFIXES):
            yield path


def read_sources(sources: list[str]) -> Inputs:
    """Every source in order; raises :class:`InputError` on the first unreadable one."""
    inputs = Inputs()
    for source in sources:
        if source == "hl7":
            read_file(HL7_BUNDLE, inputs)
        elif source == "icd10cm":
            from polyfhir.terminology.icd10cm import installed_codesystem

            inputs.add(installed_codesystem(), "icd10cm")
        else:
            path = Path(source)
            if path.is_dir():
                for file in _files(path):
                    read_file(file, inputs)
            elif path.is_file():
                read_file(path, inputs)
            else:
                raise InputError(
                    f"{source}: no such file or folder (or one of {', '.join(NAMED_SOURCES)})"
                )
    return inputs
