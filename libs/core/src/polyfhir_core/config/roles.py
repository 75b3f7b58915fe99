"""What a backend is for (role), what it is (kind) and what it can do (capabilities)."""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    """A thing a backend can do; the router only sends a query part to a capable backend."""

    CRUD = "crud"
    VERSIONING = "versioning"
    HISTORY = "history"
    TRANSACTIONS = "transactions"
    CONDITIONAL_OPERATIONS = "conditional_operations"
    BASIC_SEARCH = "basic_search"
    CHAINED_SEARCH = "chained_search"
    REVERSE_CHAINING = "reverse_chaining"
    INCLUDE = "include"
    SORT = "sort"
    FULL_TEXT = "full_text"
    FUZZY = "fuzzy"
    AGGREGATION = "aggregation"
    REFERENCE_TRAVERSAL = "reference_traversal"
    CODE_HIERARCHY = "code_hierarchy"
    VALUESET_EXPANSION = "valueset_expansion"
    BULK_EXPORT = "bulk_export"


class BackendRole(StrEnum):
    """The job a backend does in the composite. Exactly one enabled backend is the primary."""

    PRIMARY = "primary"
    SEARCH = "search"
    GRAPH = "graph"
    TERMINOLOGY = "terminology"
    ARCHIVE = "archive"

    @property
    def is_secondary(self) -> bool:
        """Secondaries are derived indexes fed by change events; only the primary is truth."""
        return self is not BackendRole.PRIMARY

    @property
    def typical_capabilities(self) -> frozenset[Capability]:
        """What a backend in this role offers unless its config says otherwise."""
        return _TYPICAL[self]


_C = Capability
_TYPICAL: dict[BackendRole, frozenset[Capability]] = {
    # The primary also serves every read feature as the fallback of last resort:
    # SQL joins for chains, FTS5/tsvector for full text, its own closure tables.
    BackendRole.PRIMARY: frozenset(
        {
            _C.CRUD,
            _C.VERSIONING,
            _C.HISTORY,
            _C.TRANSACTIONS,
            _C.CONDITIONAL_OPERATIONS,
            _C.BASIC_SEARCH,
            _C.CHAINED_SEARCH,
            _C.REVERSE_CHAINING,
            _C.INCLUDE,
            _C.SORT,
            _C.FULL_TEXT,
            _C.CODE_HIERARCHY,
            _C.BULK_EXPORT,
        }
    ),
    BackendRole.SEARCH: frozenset(
        {_C.BASIC_SEARCH, _C.SORT, _C.FULL_TEXT, _C.FUZZY, _C.AGGREGATION}
    ),
    BackendRole.GRAPH: frozenset({_C.CHAINED_SEARCH, _C.REVERSE_CHAINING, _C.REFERENCE_TRAVERSAL}),
    BackendRole.TERMINOLOGY: frozenset({_C.CODE_HIERARCHY, _C.VALUESET_EXPANSION}),
    BackendRole.ARCHIVE: frozenset({_C.HISTORY, _C.BULK_EXPORT}),
}


class BackendKind(StrEnum):
    """The engine behind a backend."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"
    OPENSEARCH = "opensearch"
    ELASTICSEARCH = "elasticsearch"
    NEO4J = "neo4j"
    FALKORDB = "falkordb"
    FILESYSTEM = "filesystem"
    S3 = "s3"

    @property
    def roles(self) -> frozenset[BackendRole]:
        """The roles this engine can play (SQL engines also host the terminology tables)."""
        return _ROLES[self]

    @property
    def url_schemes(self) -> frozenset[str]:
        """URL schemes accepted for this engine's ``url``."""
        return _SCHEMES[self]

    def can_play(self, role: BackendRole) -> bool:
        return role in _ROLES[self]

    @classmethod
    def from_url(cls, url: str) -> BackendKind | None:
        """The kind a URL implies when its scheme names exactly one engine (else ``None``)."""
        scheme = url_scheme(url)
        kinds = [kind for kind in cls if scheme in kind.url_schemes]
        return kinds[0] if len(kinds) == 1 else None


_R = BackendRole
_SQL_ROLES = frozenset({_R.PRIMARY, _R.TERMINOLOGY, _R.ARCHIVE})
_ROLES: dict[BackendKind, frozenset[BackendRole]] = {
    BackendKind.SQLITE: _SQL_ROLES,
    BackendKind.POSTGRESQL: _SQL_ROLES,
    BackendKind.OPENSEARCH: frozenset({_R.SEARCH}),
    BackendKind.ELASTICSEARCH: frozenset({_R.SEARCH}),
    BackendKind.NEO4J: frozenset({_R.GRAPH}),
    BackendKind.FALKORDB: frozenset({_R.GRAPH}),
    BackendKind.FILESYSTEM: frozenset({_R.ARCHIVE}),
    BackendKind.S3: frozenset({_R.ARCHIVE}),
}

_HTTP = frozenset({"http", "https"})
_SCHEMES: dict[BackendKind, frozenset[str]] = {
    BackendKind.SQLITE: frozenset({"sqlite"}),
    BackendKind.POSTGRESQL: frozenset({"postgresql", "postgres"}),
    BackendKind.OPENSEARCH: _HTTP,
    BackendKind.ELASTICSEARCH: _HTTP,
    BackendKind.NEO4J: frozenset({"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"}),
    BackendKind.FALKORDB: frozenset({"falkor", "falkors", "redis", "rediss", "unix"}),
    BackendKind.FILESYSTEM: frozenset({"file"}),
    BackendKind.S3: frozenset({"s3"}),
}


def url_scheme(url: str) -> str:
    """The lower-cased scheme of ``url`` (``""`` when it has none)."""
    head, sep, _ = url.partition("://")
    return head.lower() if sep else ""
