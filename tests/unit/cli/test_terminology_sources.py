"""Reading what ``polyfhir terminology load`` is given: files, folders, the shipped HL7 set."""

from __future__ import annotations

import gzip
import re
from collections.abc import Mapping
from pathlib import Path

import orjson
import pytest

from polyfhir.terminology.sources import HL7_BUNDLE, InputError, read_sources

CS = {"resourceType": "CodeSystem", "id": "cs1", "url": "http://x/cs", "content": "complete"}
VS = {"resourceType": "ValueSet", "id": "vs1", "url": "http://x/vs"}
CM = {"resourceType": "ConceptMap", "id": "cm1", "url": "http://x/cm"}
PATIENT = {"resourceType": "Patient", "id": "p1"}


def _bundle(*resources: Mapping[str, object]) -> dict[str, object]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def test_a_bundle_file_gives_its_terminology_and_skips_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "defs.json"
    path.write_bytes(orjson.dumps(_bundle(CS, PATIENT, VS)))
    inputs = read_sources([str(path)])
    assert [r["id"] for r in inputs.resources] == ["cs1", "vs1"]
    assert inputs.skipped == 1


def test_ndjson_gzip_and_single_resources_in_a_folder(tmp_path: Path) -> None:
    lines = b"\n".join(orjson.dumps(r) for r in (CS, VS)) + b"\n\n"
    (tmp_path / "a.ndjson.gz").write_bytes(gzip.compress(lines))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_bytes(orjson.dumps(CM))
    (tmp_path / "notes.txt").write_text("not FHIR")
    inputs = read_sources([str(tmp_path)])
    assert [r["id"] for r in inputs.resources] == ["cs1", "vs1", "cm1"]


def test_a_line_that_is_not_json_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_bytes(orjson.dumps(CS) + b"\n{not json\n")
    with pytest.raises(InputError, match=r"bad.ndjson line 2: not JSON"):
        read_sources([str(path)])


def test_json_that_is_not_a_resource_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_bytes(b"[1, 2]")
    with pytest.raises(InputError, match="not a FHIR resource"):
        read_sources([str(path)])


def test_a_missing_path_names_the_named_sources(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no such file or folder \(or one of hl7, icd10cm\)"):
        read_sources([str(tmp_path / "absent.json")])


def test_a_broken_gzip_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.ndjson.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(InputError, match="cannot read it"):
        read_sources([str(path)])


def test_the_shipped_hl7_set_holds_the_r4_definitions() -> None:
    inputs = read_sources(["hl7"])
    by_key = {(r["resourceType"], r["id"]): r for r in inputs.resources}
    assert len(by_key) == len(inputs.resources) > 2000  # ids unique: a reload is idempotent
    act_code = by_key["CodeSystem", "v3-ActCode"]
    assert act_code["url"] == "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    assert act_code["hierarchyMeaning"] == "is-a"
    assert any("concept" in c for c in act_code["concept"])  # nested: a real hierarchy
    assert ("ValueSet", "v3-ActEncounterCode") in by_key
    assert ("ConceptMap", "cm-administrative-gender-v2") in by_key
    assert all("text" not in r for r in inputs.resources)  # narrative left out
    assert not any(re.fullmatch(r"example(\d*|-.*)", r["id"]) for r in inputs.resources)
    assert not any(r.get("content") in ("supplement", "not-present") for r in inputs.resources)


def test_the_shipped_hl7_set_stays_small() -> None:
    assert HL7_BUNDLE.stat().st_size < 2 * 1024 * 1024
