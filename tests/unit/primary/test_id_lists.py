"""A long ``_id`` list (the graph path's candidates) is bound as one argument; a short one
keeps a parameter per id (its statements stay those of the golden file)."""

from __future__ import annotations

import pytest

from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.search import parse_search
from polyfhir_primary.adapters.sql.dialects import DIALECTS
from polyfhir_primary.search import Limits, compile_search
from polyfhir_primary.search.sql import search_statements
from polyfhir_primary.search.sql.scalar import ID_LIST_AS_ONE_ARGUMENT


def _count_args(modifier: str, ids: list[str], dialect: str) -> list[object]:
    query = parse_search("Observation", [(f"_id{modifier}", ",".join(ids))])
    compiled = compile_search(query, SearchParameterRegistry.default(), Limits(), "http://x/r4")
    count = search_statements("t", compiled.plan, DIALECTS[dialect]).count
    assert count is not None
    return list(count[1])


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("modifier", ["", ":not"])
def test_a_long_id_list_is_one_argument_and_a_short_one_is_not(dialect: str, modifier: str) -> None:
    long = [f"o-{n}" for n in range(ID_LIST_AS_ONE_ARGUMENT + 1)]
    short = long[:3]
    long_args = _count_args(modifier, long, dialect)
    short_args = _count_args(modifier, short, dialect)
    assert len(long_args) == len(short_args) - len(short) + 1
    assert all(i in str(long_args[-1]) for i in long)  # the array (or JSON array) holds them
    assert short_args[-len(short) :] == short
