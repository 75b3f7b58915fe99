"""The call catalogue is derived from a Protocol: what is a call, its types, what is refused."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Protocol

import pytest

from polyfhir_core.contracts.contract import Contract, derive_calls
from polyfhir_core.contracts.graph_index import GRAPH_INDEX, GraphIndex
from polyfhir_core.contracts.primary_store import (
    PRIMARY_STORE,
    EntryRequest,
    EntryResponse,
    PrimaryStore,
)
from polyfhir_core.contracts.search_index import SEARCH_INDEX, SearchIndex
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.contracts.terminology import TERMINOLOGY_INDEX, TerminologyIndex
from polyfhir_core.tenancy import TenantContext


def _async_methods(protocol: type) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(protocol, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize(
    ("contract", "protocol"),
    [
        (PRIMARY_STORE, PrimaryStore),
        (SEARCH_INDEX, SearchIndex),
        (GRAPH_INDEX, GraphIndex),
        (TERMINOLOGY_INDEX, TerminologyIndex),
    ],
)
def test_every_async_method_but_the_probe_is_a_call(
    contract: Contract[object], protocol: type
) -> None:
    assert set(contract.calls) == _async_methods(protocol) - {"check_ready"}
    for call in contract.calls.values():
        assert call.parameters[0].name == "ctx"
        assert call.parameters[0].kind is TenantContext


def test_argument_and_result_types_come_from_the_annotations() -> None:
    process = PRIMARY_STORE.calls["process"]
    assert [(p.name, p.kind) for p in process.parameters] == [
        ("ctx", TenantContext),
        ("kind", process.parameters[1].kind),
        ("entries", Sequence[EntryRequest]),
    ]
    assert process.result == list[EntryResponse]
    wait = SEARCH_INDEX.calls["wait_applied"]
    assert wait.parameters[1].kind == list[AppliedVersion]
    assert wait.result is bool
    assert wait.waits and not SEARCH_INDEX.calls["stats"].waits


def test_the_catalogue_is_derived_once_per_contract() -> None:
    assert PRIMARY_STORE.calls is PRIMARY_STORE.calls


class _Untenanted(Protocol):
    async def everything(self, limit: int) -> int: ...

    async def check_ready(self) -> None: ...


class _Unannotated(Protocol):
    async def read(self, ctx: TenantContext, id: str) -> None: ...


del _Unannotated.read.__annotations__["id"]  # as if written without an annotation


class _WithHelpers(Protocol):
    async def count(self, ctx: TenantContext, limit: int = 10) -> int: ...

    async def _internal(self) -> None: ...

    def describe(self) -> str: ...


def test_a_call_not_bound_to_a_tenant_is_refused() -> None:
    with pytest.raises(TypeError, match="ctx: TenantContext"):
        derive_calls(_Untenanted)


def test_an_unannotated_call_is_refused() -> None:
    with pytest.raises(TypeError, match="unannotated"):
        derive_calls(_Unannotated)


def test_private_and_synchronous_methods_are_not_calls_and_defaults_are_kept() -> None:
    calls = derive_calls(_WithHelpers)
    assert list(calls) == ["count"]
    limit = calls["count"].parameters[1]
    assert (limit.name, limit.required, limit.default) == ("limit", False, 10)
