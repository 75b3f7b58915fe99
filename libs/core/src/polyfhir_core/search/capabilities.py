"""What the search engine of the primary store supports, per parameter type.

The compiler accepts exactly these modifiers and the CapabilityStatement
advertises exactly these, so the two cannot drift apart.
"""

from __future__ import annotations

from polyfhir_core.registry import SearchParamType

SUPPORTED_MODIFIERS: dict[SearchParamType, frozenset[str]] = {
    SearchParamType.TOKEN: frozenset(
        {"missing", "not", "text", "below", "above", "in", "not-in", "of-type"}
    ),
    SearchParamType.STRING: frozenset({"missing", "exact", "contains"}),
    SearchParamType.DATE: frozenset({"missing"}),
    SearchParamType.NUMBER: frozenset({"missing"}),
    SearchParamType.QUANTITY: frozenset({"missing"}),
    SearchParamType.URI: frozenset({"missing", "below", "above"}),
    # plus ``:[type]`` (any resource type) and chains
    SearchParamType.REFERENCE: frozenset({"missing", "identifier"}),
}

# Rows derived for modifiers live under ``<param><suffix>`` in the token index.
OF_TYPE_SUFFIX = ":of-type"
IDENTIFIER_SUFFIX = ":identifier"
