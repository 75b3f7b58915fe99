"""Which ``small`` statement a search runs, by total mode and by its driver's rows
(``SearchStatements.small_for``; docs/search.md, "PostgreSQL plans")."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.search import parse_search
from polyfhir_primary.adapters.sql.dialects import DIALECTS
from polyfhir_primary.search import Limits, compile_search
from polyfhir_primary.search.sql import SearchStatements, search_statements
from polyfhir_primary.search.sql.statements import UNCAPPED
from polyfhir_primary.search.sql.totals import CHAIN_CAP, ESTIMATE_CAP

CHAIN = "Observation?patient.gender=female&code=http://loinc.org|2951-2"
HAS = "Patient?_has:Observation:patient:code=http://loinc.org|2951-2"


def _statements(query: str, dialect: str) -> SearchStatements:
    rtype, _, qs = query.partition("?")
    parsed = parse_search(rtype, parse_qsl(qs))
    plan = compile_search(parsed, SearchParameterRegistry.default(), Limits()).plan
    return search_statements("t", plan, DIALECTS[dialect])


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("query", [CHAIN, HAS])
def test_a_broad_driver_takes_the_first_matches_in_order_up_to_the_estimate_cap(
    dialect: str, query: str
) -> None:
    s = _statements(f"{query}&_total=estimate", dialect)
    assert s.driver_rows is not None
    narrow = s.small_for(CHAIN_CAP)
    assert narrow.sql == s.small
    assert not narrow.in_order
    broad = s.small_for(CHAIN_CAP + 1)
    assert s.broad_small is not None
    assert broad.sql == s.broad_small
    assert (broad.cap, broad.in_order) == (ESTIMATE_CAP, True)


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_an_accurate_chain_counts_every_match_in_the_one_pass(dialect: str) -> None:
    s = _statements(f"{CHAIN}&_total=accurate", dialect)
    assert s.driver_rows is None
    assert s.small is not None and s.small_cap == UNCAPPED


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_a_chain_that_drives_keeps_the_chain_cap(dialect: str) -> None:
    s = _statements("Observation?patient.name=ann&_total=estimate", dialect)
    assert s.driver_rows is None
    assert s.small_for(None) == (s.small, CHAIN_CAP, False)


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_one_text_word_is_counted_and_paged_from_its_rows(dialect: str) -> None:
    s = _statements("Condition?code:text=angina&_total=estimate", dialect)
    assert s.small is not None and "idx_token_word" in s.small[0]
    assert "FROM resources r" not in s.small[0]  # resources read for the page only
    assert s.small_for(None) == (s.small, ESTIMATE_CAP, True)
