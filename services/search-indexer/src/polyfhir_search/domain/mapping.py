"""Index settings and mappings (the same body for OpenSearch and Elasticsearch).

Text fields use ``polyfhir_english``: standard tokenizer, Porter-style
English stemming, English stop words, lower case and accent
folding — the counterpart of the primary's FTS5 ``porter unicode61
remove_diacritics`` and PostgreSQL ``english`` configurations. Each text field
has a ``.prefix`` sub-field analysed without stemming, so that ``word*`` also
matches words whose stem is shorter than the prefix (``runn*`` -> running).
"""

from __future__ import annotations

from typing import Any

from polyfhir_search.domain.documents import STRING, TOKEN_TEXT

ENGLISH = "polyfhir_english"
FOLDED = "polyfhir_folded"

_TEXT: dict[str, Any] = {
    "type": "text",
    "analyzer": ENGLISH,
    "fields": {"prefix": {"type": "text", "analyzer": FOLDED}},
}

RESOURCE_SETTINGS: dict[str, Any] = {
    "analysis": {
        "filter": {
            "polyfhir_stop": {"type": "stop", "stopwords": "_english_"},
            "polyfhir_stemmer": {"type": "stemmer", "language": "english"},
        },
        "analyzer": {
            ENGLISH: {
                "type": "custom",
                "tokenizer": "standard",
                "filter": [
                    "lowercase",
                    "asciifolding",
                    "polyfhir_stop",
                    "polyfhir_stemmer",
                ],
            },
            FOLDED: {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding"],
            },
        },
    }
}

RESOURCE_MAPPINGS: dict[str, Any] = {
    "dynamic_templates": [
        {"token_text": {"path_match": f"{TOKEN_TEXT}.*", "mapping": _TEXT}},
        {"string": {"path_match": f"{STRING}.*", "mapping": _TEXT}},
    ],
    "properties": {
        "tenant": {"type": "keyword"},
        "type": {"type": "keyword"},
        "rid": {"type": "keyword"},
        "version": {"type": "long"},
        "deleted": {"type": "boolean"},
        "last_updated": {"type": "date"},
        "narrative": _TEXT,
        "content": _TEXT,
        TOKEN_TEXT: {"type": "object"},
        STRING: {"type": "object"},
        # the index's own bookkeeping, kept with the documents (no tenant: never a hit)
        "partition": {"type": "integer"},
        "position": {"type": "long"},
        "generation": {"type": "keyword"},
        "complete": {"type": "boolean"},
        "gaps": {"type": "long"},
        "revision": {"type": "long"},
    },
}
