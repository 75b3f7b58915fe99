"""A stored version read from the database goes out as its stored JSON text, unless
something decoded (and so may have changed) its content first."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from polyfhir_core import wire
from polyfhir_core.contracts.primary_store import Page
from polyfhir_core.resources import StoredResource
from polyfhir_core.tenancy import TenantId

TENANT = TenantId.parse("acme")
NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
TEXT = b'{"resourceType":"Patient","id":"p1","meta":{"versionId":"2"},"gender":"female"}'


def _stored() -> StoredResource:
    return StoredResource.from_stored_json(TENANT, "Patient", "p1", 2, NOW, TEXT)


def test_an_undecoded_version_is_written_as_its_stored_text() -> None:
    stored = _stored()
    out = orjson.dumps({"entry": [{"resource": stored.response_json()}]})
    assert out == b'{"entry":[{"resource":' + TEXT + b"}]}"


def test_content_is_decoded_when_read_and_then_written_from_the_dict() -> None:
    stored = _stored()
    assert stored.content is not None
    assert stored.content["gender"] == "female"
    stored.content["gender"] = "male"  # a caller that changed what it decoded
    assert stored.response_json() == {**orjson.loads(TEXT), "gender": "male"}


def test_equal_to_the_same_version_built_from_its_content() -> None:
    built = StoredResource(TENANT, "Patient", "p1", 2, NOW, False, orjson.loads(TEXT))
    assert _stored() == built
    assert built.response_json() == orjson.loads(TEXT)


def test_the_internal_api_carries_the_stored_text_and_the_receiver_keeps_it() -> None:
    data = orjson.loads(wire.dumps(Page, Page(resources=[_stored()])))
    (sent,) = data["resources"]
    assert sent["content_json"] == TEXT.decode()  # the stored text, as is
    (received,) = wire.loads(Page, orjson.dumps(data)).resources
    assert isinstance(received.response_json(), orjson.Fragment)  # not decoded on arrival
    assert received == _stored()
    assert received.content == orjson.loads(TEXT)


def test_a_changed_or_deleted_version_travels_as_its_content() -> None:
    changed = _stored()
    assert changed.content is not None
    changed.content["gender"] = "male"
    tombstone = StoredResource(TENANT, "Patient", "p1", 3, NOW, True, None)
    page = wire.loads(Page, wire.dumps(Page, Page(resources=[changed, tombstone])))
    assert page.resources[0].content == {**orjson.loads(TEXT), "gender": "male"}
    assert page.resources[1] == tombstone


@pytest.mark.parametrize(
    "bad",
    [
        {"tenant": "t"},
        {
            "tenant": "t",
            "resource_type": "Patient",
            "id": "p1",
            "version": "2",
            "last_updated": "2026-01-01T00:00:00+00:00",
            "deleted": False,
            "content_json": "{}",
        },
        {
            "tenant": "t",
            "resource_type": "Patient",
            "id": "p1",
            "version": 2,
            "last_updated": "yesterday",
            "deleted": False,
            "content_json": "{}",
        },
        "Patient/p1",
    ],
)
def test_anything_else_is_refused_as_a_validation_error(bad: object) -> None:
    with pytest.raises(ValidationError):
        wire.load(Page, {"resources": [bad]})
