"""The SQL of a broad corpus of searches stays what it was (both dialects).

The search statements are tuned statement by statement (docs/search.md,
benchmarks/README.md); ``tools/search_statements.py`` prints them for ~180
queries and ``golden/search_statements.txt`` is that output. A change to the
search code that is not meant to change the SQL must leave it byte-identical;
one that is regenerates the file (the diff is the review).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from polyfhir_core.registry import SearchParameterRegistry

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = Path(__file__).parent / "golden" / "search_statements.txt"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "search_statements_tool", ROOT / "tools" / "search_statements.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_search_statements_match_the_golden_file() -> None:
    rendered = "\n".join(_tool().render(SearchParameterRegistry.default())) + "\n"
    golden = GOLDEN.read_text(encoding="utf-8")
    assert rendered.splitlines() == golden.splitlines(), (
        "search SQL changed: regenerate with `python tools/search_statements.py >"
        f" {GOLDEN.relative_to(ROOT)}` only if that is intended"
    )
    assert rendered == golden
