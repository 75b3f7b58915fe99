"""The one string normalisation shared by string index rows and string search values."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Longest value kept in a string index row (btree entries must stay small);
# search values are cut the same way, so prefixes of long values still match.
MAX_INDEXED_CHARS = 512


@lru_cache(maxsize=65536)  # index rows repeat the same displays, names and places
def normalize(text: str) -> str:
    """Case- and accent-insensitive form: ``Émile  Zola`` -> ``emile zola``."""
    if text.isascii():  # NFKD and combining marks change nothing in ASCII; casefold is lower
        return " ".join(text.lower().split())[:MAX_INDEXED_CHARS]
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split())[:MAX_INDEXED_CHARS]


# Longest word kept in a token-word index row; search words are cut the same way.
MAX_WORD_CHARS = 64
_WORD = re.compile(r"\w+")


def text_words(text: str) -> tuple[str, ...]:
    """The normalised words of a text, first occurrence order, without repeats:
    ``Type 2 Diabetes-mellitus`` -> ``("type", "2", "diabetes", "mellitus")``.
    Token ``:text`` indexes a display by these words and matches each search word
    as a prefix of one of them."""
    words = (w[:MAX_WORD_CHARS] for w in _WORD.findall(normalize(text)))
    return tuple(dict.fromkeys(words))
