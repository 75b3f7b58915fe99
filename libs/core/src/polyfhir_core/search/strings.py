"""The one string normalisation shared by string index rows and string search values."""

from __future__ import annotations

import unicodedata

# Longest value kept in a string index row (btree entries must stay small);
# search values are cut the same way, so prefixes of long values still match.
MAX_INDEXED_CHARS = 512


def normalize(text: str) -> str:
    """Case- and accent-insensitive form: ``Émile  Zola`` -> ``emile zola``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split())[:MAX_INDEXED_CHARS]
