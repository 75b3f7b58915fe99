"""Conditional read decisions and Accept negotiation (http.html#cread, http.html#version)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from polyfhir_gateway.api.conditional_read import is_not_modified
from polyfhir_gateway.api.fhir_json import acceptable_media_range

UPDATED = datetime(2026, 3, 4, 10, 20, 30, 456000, tzinfo=UTC)


def not_modified(*, none_match: str | None = None, since: str | None = None) -> bool:
    return is_not_modified(
        if_none_match=none_match,
        if_modified_since=since,
        etag='W/"2"',
        version=2,
        last_updated=UPDATED,
    )


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("Wed, 04 Mar 2026 10:20:30 GMT", True),  # same second: unchanged
        ("Wed, 04 Mar 2026 11:00:00 GMT", True),
        ("Wed, 04 Mar 2026 10:20:29 GMT", False),
        ("not a date", False),
        ("", False),
    ],
)
def test_if_modified_since(since: str, expected: bool) -> None:
    assert not_modified(since=since) is expected


def test_if_none_match_wins_over_if_modified_since() -> None:
    later = "Wed, 04 Mar 2026 11:00:00 GMT"
    assert not_modified(none_match='W/"1"', since=later) is False
    assert not_modified(none_match='W/"2"', since="Wed, 04 Mar 2026 09:00:00 GMT") is True


@pytest.mark.parametrize(
    ("media_range", "expected"),
    [
        ("application/fhir+json", True),
        ("application/fhir+json; fhirVersion=4.0", True),
        ('application/fhir+json; fhirversion="4.0.1"', True),
        ("application/fhir+json; fhirVersion=3.0", False),
        ("*/*; fhirVersion=5.0", False),
        ("*/*", True),
        ("application/fhir+xml", False),
    ],
)
def test_accept_media_range(media_range: str, expected: bool) -> None:
    assert acceptable_media_range(media_range) is expected
