"""Stored resources: one version of one resource of one tenant."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

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

    On the internal API (``polyfhir_core.wire``) a version travels as its fields with
    the resource as a JSON *string* (``content_json``): the sender writes its stored
    text as is, the receiver keeps it as ``stored_json`` (decoded only if asked), so a
    page crosses the process boundary without being walked as JSON on either side.
    """

    tenant: TenantId
    resource_type: str
    id: str
    version: int
    last_updated: datetime
    deleted: bool
    content: Json | None
    stored_json: bytes | None = field(default=None, compare=False, repr=False)

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

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """The internal API's form of a version (see the class doc): ``to_wire``/``from_wire``."""
        return core_schema.no_info_plain_validator_function(
            cls.from_wire,
            serialization=core_schema.plain_serializer_function_ser_schema(cls.to_wire),
        )

    def to_wire(self) -> Json:
        body = self.response_json()
        if isinstance(body, orjson.Fragment):
            assert self.stored_json is not None
            text: str | None = self.stored_json.decode()
        else:
            text = None if body is None else orjson.dumps(body).decode()
        return {
            "tenant": self.tenant.value,
            "resource_type": self.resource_type,
            "id": self.id,
            "version": self.version,
            "last_updated": self.last_updated.isoformat(),
            "deleted": self.deleted,
            "content_json": text,
        }

    @classmethod
    def from_wire(cls, data: Any) -> StoredResource:
        """A version from its wire form (``ValueError`` for anything else: a 400)."""
        if isinstance(data, StoredResource):
            return data
        try:
            tenant, rtype, rid = TenantId(data["tenant"]), data["resource_type"], data["id"]
            version, deleted, text = data["version"], data["deleted"], data["content_json"]
            last_updated = datetime.fromisoformat(data["last_updated"])
        except (TypeError, KeyError, ValueError, BadRequest) as exc:
            raise ValueError(f"not a stored resource: {exc!r}") from exc
        if not (
            isinstance(rtype, str)
            and isinstance(rid, str)
            and type(version) is int
            and isinstance(deleted, bool)
            and (text is None or isinstance(text, str))
        ):
            raise ValueError("not a stored resource: a field has the wrong type")
        if text is None or deleted:
            content = None if text is None else orjson.loads(text)
            return cls(tenant, rtype, rid, version, last_updated, deleted, content)
        return cls.from_stored_json(tenant, rtype, rid, version, last_updated, text.encode())

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
