"""Stored resources: one version of one resource of one tenant."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from pydantic import Field

from polyfhir_core.errors import BadRequest
from polyfhir_core.input_limits import MAX_INT32, parse_bounded_int
from polyfhir_core.tenancy import TenantId

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z]{1,63}$")

Json = dict[str, Any]


def check_id(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise BadRequest(f"invalid id {value!r}: 1-64 characters of A-Z a-z 0-9 '-' '.'")
    return value


@dataclass(frozen=True, slots=True)
class ResourceKey:
    resource_type: str
    id: str

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.id}"

    @classmethod
    def parse(cls, reference: str) -> ResourceKey:
        rtype, _, rid = reference.partition("/")
        if not rid or not TYPE_PATTERN.match(rtype):
            raise BadRequest(f"not a relative reference 'Type/id': {reference!r}")
        return cls(rtype, check_id(rid))


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version. ``content`` is None for a delete tombstone.

    ``content`` already carries ``id`` and ``meta.versionId``/``meta.lastUpdated``.

    A resource read from the database may keep its stored JSON text (``stored_json``,
    built by :meth:`from_stored_json`) and decode ``content`` only when something asks
    for it: a search page or a read that goes out unchanged is written into the
    response as that text (:meth:`response_json`), never decoded and encoded again.
    ``stored_json`` stays in the process (the internal API carries ``content``).
    """

    tenant: TenantId
    resource_type: str
    id: str
    version: int
    last_updated: datetime
    deleted: bool
    content: Json | None
    stored_json: Annotated[bytes | None, Field(exclude=True)] = field(
        default=None, compare=False, repr=False
    )

    @classmethod
    def from_stored_json(
        cls,
        tenant: TenantId,
        resource_type: str,
        id: str,
        version: int,
        last_updated: datetime,
        stored_json: bytes,
    ) -> StoredResource:
        """A live version whose ``content`` is decoded from ``stored_json`` on first use."""
        stored = object.__new__(cls)
        for name, value in (
            ("tenant", tenant),
            ("resource_type", resource_type),
            ("id", id),
            ("version", version),
            ("last_updated", last_updated),
            ("deleted", False),
            ("stored_json", stored_json),
        ):
            object.__setattr__(stored, name, value)
        return stored  # ``content`` unset: __getattr__ decodes it when first read

    if not TYPE_CHECKING:  # hidden from mypy, which would type every unknown attribute by it

        def __getattr__(self, name: str) -> Any:
            """Only reached for an unset slot: ``content`` of :meth:`from_stored_json`."""
            if name != "content" or self.stored_json is None:
                raise AttributeError(name)
            content = orjson.loads(self.stored_json)
            object.__setattr__(self, "content", content)
            return content

    def response_json(self) -> Json | orjson.Fragment | None:
        """What to put into a response for this version: its stored text as is while
        ``content`` has not been decoded (nothing can have changed it), else ``content``."""
        slot: Any = StoredResource.__dict__["content"]  # the slot itself, past __getattr__
        try:
            content: Json | None = slot.__get__(self, StoredResource)
        except AttributeError:
            assert self.stored_json is not None
            return orjson.Fragment(self.stored_json)
        return content

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.resource_type, self.id)

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def version_path(self) -> str:
        return f"{self.resource_type}/{self.id}/_history/{self.version}"


@lru_cache(maxsize=64)
def format_instant(value: datetime) -> str:
    """FHIR instant with millisecond precision, always UTC ``Z``.

    Cached: a transaction stamps every resource, version and event it writes with one
    time (an import's batch: hundreds of calls with the same value), and ``strftime``
    was 2-4 % of an import's wall time (py-spy, session 11). Equal datetimes are the
    same instant, so they format alike."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_instant(value: str) -> datetime:
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(f"not a FHIR instant: {value!r}") from exc
    if parsed.tzinfo is None:
        raise BadRequest(f"instant needs a timezone: {value!r}")
    return parsed.astimezone(UTC)


def parse_etag(value: str) -> int:
    """``W/"3"`` or ``"3"`` or ``3`` -> 3."""
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not (text.isascii() and text.isdigit()):
        raise BadRequest(f'invalid ETag / version {value!r}: expected W/"<integer>"')
    return parse_bounded_int("ETag version", text, maximum=MAX_INT32)
