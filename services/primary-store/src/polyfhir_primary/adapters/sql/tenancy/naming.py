"""Names of a tenant's schema, database or file, derived from its id.

Readable (the sanitised id) and unique (a hash of the exact id): ``acme/research``
and ``acme_research`` or ``Acme`` never share a name, and every name fits
PostgreSQL's 63-byte identifiers and any file system. Nothing here is ever
parsed back: the registry (``tenant_placements``) maps ids to names.
"""

from __future__ import annotations

import hashlib
import re

from polyfhir_core.tenancy import TenantId

_UNSAFE = re.compile(r"[^a-z0-9]+")
_READABLE = 24  # characters of the sanitised id kept in a name
_HASHED = 12  # hex digits of sha256(id)


def _stem(tenant: TenantId) -> str:
    readable = _UNSAFE.sub("_", tenant.value.lower()).strip("_")[:_READABLE]
    digest = hashlib.sha256(tenant.value.encode()).hexdigest()[:_HASHED]
    return f"{readable}_{digest}" if readable else digest


def schema_name(tenant: TenantId) -> str:
    """``acme/research`` -> ``t_acme_research_<hash>`` (at most 39 characters)."""
    return f"t_{_stem(tenant)}"


def database_name(control: str, tenant: TenantId) -> str:
    """The tenant's PostgreSQL database, prefixed by the control database's name so two
    installations on one server never meet (at most 62 characters)."""
    prefix = _UNSAFE.sub("_", control.lower()).strip("_")[:20] or "polyfhir"
    return f"{prefix}_t_{_stem(tenant)}"


def file_name(tenant: TenantId) -> str:
    """The tenant's SQLite file in the tenants' directory."""
    return f"{_stem(tenant)}.db"


def quoted(identifier: str) -> str:
    """A PostgreSQL identifier in double quotes (names above contain no quote)."""
    return '"' + identifier.replace('"', '""') + '"'
