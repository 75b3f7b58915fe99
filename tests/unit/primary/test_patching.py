"""Patch application (pure): JSON Merge Patch (RFC 7386) and FHIRPath Patch (fhirpatch.html)."""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_core.contracts.patch import Patch, PatchFormat
from polyfhir_core.errors import BadRequest, NotSupported, Unprocessable
from polyfhir_primary.domain.patching import apply_patch


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "active": True,
        "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
        "identifier": [
            {"system": "urn:a", "value": "1"},
            {"system": "urn:b", "value": "2"},
        ],
    }


def operation(kind: str, path: str, **parts: Any) -> dict[str, Any]:
    listed: list[dict[str, Any]] = [
        {"name": "type", "valueCode": kind},
        {"name": "path", "valueString": path},
    ]
    for name, value in parts.items():
        if name == "value_parts":
            listed.append({"name": "value", "part": value})
        elif isinstance(value, int):
            listed.append({"name": name, "valueInteger": value})
        elif isinstance(value, dict):
            listed.append({"name": name, **value})
        else:
            listed.append({"name": name, "valueString": value})
    return {"name": "operation", "part": listed}


def fhirpath(*operations: dict[str, Any]) -> Patch:
    return Patch(
        PatchFormat.FHIRPATH_PATCH, {"resourceType": "Parameters", "parameter": list(operations)}
    )


def test_merge_patch_merges_replaces_and_removes() -> None:
    body = {"active": None, "gender": "male", "name": [{"family": "Other"}]}
    patched = apply_patch(Patch(PatchFormat.MERGE_PATCH, body), patient())
    assert "active" not in patched
    assert patched["gender"] == "male"
    assert patched["name"] == [{"family": "Other"}]  # arrays are replaced whole
    assert patched["identifier"] == patient()["identifier"]


def test_patch_leaves_the_current_content_alone() -> None:
    current = patient()
    apply_patch(Patch(PatchFormat.MERGE_PATCH, {"active": None}), current)
    assert current == patient()


def test_fhirpath_replace_and_add() -> None:
    patched = apply_patch(
        fhirpath(
            operation("replace", "Patient.name[0].family", value="Smith"),
            operation("add", "Patient", name="gender", value={"valueCode": "female"}),
            operation("add", "Patient.name[0]", name="given", value="Jim"),
            operation(
                "add",
                "Patient",
                name="telecom",
                value={"valueContactPoint": {"system": "phone", "value": "123"}},
            ),
        ),
        patient(),
    )
    assert patched["name"][0]["family"] == "Smith"
    assert patched["gender"] == "female"  # a single value
    assert patched["name"][0]["given"] == ["Peter", "James", "Jim"]
    assert patched["telecom"] == [{"system": "phone", "value": "123"}]  # a new array


def test_fhirpath_add_backbone_value_from_parts() -> None:
    contact = [{"name": "gender", "valueCode": "other"}]
    patched = apply_patch(
        fhirpath(operation("add", "Patient", name="contact", value_parts=contact)), patient()
    )
    assert patched["contact"] == [{"gender": "other"}]


def test_fhirpath_insert_move_delete_with_where() -> None:
    patched = apply_patch(
        fhirpath(
            operation(
                "insert",
                "Patient.identifier",
                index=0,
                value={"valueIdentifier": {"system": "urn:c", "value": "3"}},
            ),
            operation("move", "Patient.identifier", source=0, destination=2),
            operation("delete", "Patient.identifier.where(system='urn:a')"),
            operation("delete", "Patient.birthDate"),  # absent: nothing to delete
        ),
        patient(),
    )
    assert [i["system"] for i in patched["identifier"]] == ["urn:b", "urn:c"]


def test_fhirpath_delete_of_the_last_item_drops_the_array() -> None:
    patched = apply_patch(fhirpath(operation("delete", "Patient.name.first()")), patient())
    assert "name" not in patched


@pytest.mark.parametrize(
    "failing",
    [
        operation("replace", "Patient.gender", value="x"),  # no match
        operation("replace", "Patient.identifier", value="x"),  # two matches
        operation("delete", "Patient.identifier"),  # two matches
        operation("add", "Patient", name="active", value={"valueBoolean": False}),  # already set
        operation("insert", "Patient.identifier", index=5, value="x"),
        operation("move", "Patient.identifier", source=0, destination=9),
        operation("replace", "Patient", value="x"),  # the resource itself
        operation("delete", "Patient"),
    ],
)
def test_fhirpath_patch_that_cannot_apply_is_422(failing: dict[str, Any]) -> None:
    with pytest.raises(Unprocessable):
        apply_patch(fhirpath(failing), patient())


@pytest.mark.parametrize(
    ("parameters", "error"),
    [
        ({"resourceType": "Parameters"}, BadRequest),
        ({"resourceType": "Parameters", "parameter": [{"name": "op"}]}, BadRequest),
        (fhirpath(operation("rename", "Patient.active")).body, BadRequest),
        (fhirpath(operation("replace", "Patient.name[0]..family", value="x")).body, BadRequest),
        (fhirpath(operation("replace", "Patient.name.exists()", value="x")).body, NotSupported),
        (fhirpath(operation("insert", "Patient.identifier", value="x")).body, BadRequest),
        (fhirpath(operation("replace", "Patient.active", value={})).body, BadRequest),
        (
            fhirpath(operation("insert", "Patient.identifier.first()", index=0, value="x")).body,
            NotSupported,
        ),
    ],
)
def test_malformed_fhirpath_patch_is_400(
    parameters: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        apply_patch(Patch(PatchFormat.FHIRPATH_PATCH, parameters), patient())


@pytest.mark.parametrize(
    ("media_type", "body"),
    [
        ("application/json-patch+json", {"op": "add"}),
        ("application/merge-patch+json", []),
        ("application/fhir+json", {"resourceType": "Patient"}),
        ("text/plain", {}),
    ],
)
def test_patch_of_checks_the_outer_shape(media_type: str, body: Any) -> None:
    with pytest.raises(BadRequest):
        Patch.of(media_type, body)


def test_plain_json_object_is_merge_patch_and_parameters_is_fhirpath_patch() -> None:
    assert Patch.of("application/json", {"gender": "male"}).format is PatchFormat.MERGE_PATCH
    parameters = {"resourceType": "Parameters", "parameter": []}
    assert Patch.of("application/json", parameters).format is PatchFormat.FHIRPATH_PATCH
    with pytest.raises(BadRequest):
        Patch.of("application/json", [{"op": "remove", "path": "/active"}])
