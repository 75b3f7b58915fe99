"""The terminology operations, each declared once (docs/terminology-operations.md).

A :class:`TerminologyOperation` says where an operation is served
(``<type>/$<name>``, and ``<type>/[id]/$<name>`` when it has an instance level),
which parameters it knows and refuses, how its input becomes a request of the
terminology contract, which :class:`TerminologyIndex` call answers it and how the
answer is written. The gateway's routes (``api/routes_terminology.py``) and the
CapabilityStatement (``api/capability.py``) are both derived from
:data:`TERMINOLOGY_OPERATIONS`.

The caller needs the read scope of ``resource_type``; that check, reading the
input (query string or ``Parameters`` body) and ``Prefer: handling`` are the route's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_core.contracts.terminology import (
    TerminologyIndex,
    TranslateRequest,
    TranslateResult,
)
from polyfhir_core.errors import BadRequest
from polyfhir_core.resources import check_id
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.terminology import code_system_requests as cs
from polyfhir_gateway.terminology import operation_results as results
from polyfhir_gateway.terminology import value_set_requests as vs
from polyfhir_gateway.terminology.code_system_requests import CodeSystemRef
from polyfhir_gateway.terminology.operation_input import Json, OperationInput

if TYPE_CHECKING:  # at run time: operations -> pipeline -> operations, when capability comes first
    from polyfhir_gateway.terminology.operations import TerminologyOperations

InstanceT = TypeVar("InstanceT")
RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")

InstanceResolver = Callable[[PrimaryStore, TenantContext, str], Awaitable[InstanceT]]
"""What an instance-level call passes on for ``[id]``: read from the primary, or the id."""


@dataclass(frozen=True, slots=True)
class TerminologyOperation(Generic[InstanceT, RequestT, ResultT]):
    """One operation: ``resource_type`` is the type in its path and the type whose read
    scope the caller needs; ``instance`` is ``None`` when it has no instance level."""

    resource_type: str
    name: str
    known: frozenset[str]
    unsupported: frozenset[str]
    parse_request: Callable[[OperationInput, InstanceT | None], RequestT]
    ask: Callable[[TerminologyIndex, TenantContext, RequestT], Awaitable[ResultT]]
    build_answer: Callable[[ResultT, RequestT], Json]
    instance: InstanceResolver[InstanceT] | None = None

    @property
    def label(self) -> str:
        """``CodeSystem/$lookup``: how error messages name the operation."""
        return f"{self.resource_type}/${self.name}"

    @property
    def definition(self) -> str:
        """The canonical R4 OperationDefinition (listed in the CapabilityStatement)."""
        return f"http://hl7.org/fhir/OperationDefinition/{self.resource_type}-{self.name}"

    async def run(
        self,
        given: OperationInput,
        store: PrimaryStore,
        tenant: TenantContext,
        instance_id: str | None,
        operations: TerminologyOperations,
    ) -> tuple[Json, str]:
        """The answer to ``given`` (at instance level when ``instance_id`` is given) and
        the name of the index that answered. Bad input is a 400 before any index is asked."""
        instance = None
        if instance_id is not None and self.instance is not None:
            instance = await self.instance(store, tenant, instance_id)
        request = self.parse_request(given, instance)
        found, route = await operations.call(lambda index: self.ask(index, tenant, request))
        return self.build_answer(found, request), route


async def code_system_of(store: PrimaryStore, tenant: TenantContext, cid: str) -> CodeSystemRef:
    """The instance's canonical and version, read from the primary (404 if unknown)."""
    stored = await store.read(tenant, "CodeSystem", check_id(cid))
    content = stored.content or {}
    url, version = content.get("url"), content.get("version")
    if not isinstance(url, str) or not url:
        raise BadRequest(f"CodeSystem/{cid} has no url: the operation needs its canonical")
    return CodeSystemRef(url, version if isinstance(version, str) else None)


async def checked_id(store: PrimaryStore, tenant: TenantContext, rid: str) -> str:
    """The id itself (the terminology index knows value sets and maps by id)."""
    return check_id(rid)


async def translate_each(
    index: TerminologyIndex, tenant: TenantContext, requests: tuple[TranslateRequest, ...]
) -> tuple[TranslateResult, ...]:
    """One ``translate`` per coding asked about, in order."""
    return tuple([await index.translate(tenant, request) for request in requests])


def of_result(build: Callable[[ResultT], Json]) -> Callable[[ResultT, object], Json]:
    """An answer written from the result alone (the request does not shape it)."""
    return lambda result, _request: build(result)


LOOKUP = TerminologyOperation(
    "CodeSystem",
    "lookup",  # R4 defines no instance level
    cs.LOOKUP_PARAMS,
    cs.LOOKUP_UNSUPPORTED,
    parse_request=cs.lookup_request,
    ask=lambda index, ctx, request: index.lookup(ctx, request),
    build_answer=of_result(results.lookup_parameters),
)


CODE_SYSTEM_VALIDATE_CODE = TerminologyOperation(
    "CodeSystem",
    "validate-code",
    cs.CS_VALIDATE_PARAMS,
    cs.CS_VALIDATE_UNSUPPORTED,
    parse_request=cs.code_system_validate_request,
    ask=lambda index, ctx, request: index.validate_code(ctx, request),
    build_answer=of_result(results.validate_code_parameters),
    instance=code_system_of,
)


SUBSUMES = TerminologyOperation(
    "CodeSystem",
    "subsumes",
    cs.SUBSUMES_PARAMS,
    frozenset(),
    parse_request=cs.subsumes_request,
    ask=lambda index, ctx, request: index.subsumes(ctx, request),
    build_answer=of_result(results.subsumes_parameters),
    instance=code_system_of,
)


EXPAND = TerminologyOperation(
    "ValueSet",
    "expand",
    vs.EXPAND_PARAMS,
    vs.EXPAND_UNSUPPORTED,
    parse_request=vs.expand_request,
    ask=lambda index, ctx, request: index.expand(ctx, request),
    build_answer=results.expanded_value_set,
    instance=checked_id,
)


VALUE_SET_VALIDATE_CODE = TerminologyOperation(
    "ValueSet",
    "validate-code",
    vs.VS_VALIDATE_PARAMS,
    vs.VS_VALIDATE_UNSUPPORTED,
    parse_request=vs.value_set_validate_request,
    ask=lambda index, ctx, request: index.validate_code(ctx, request),
    build_answer=of_result(results.validate_code_parameters),
    instance=checked_id,
)


TRANSLATE = TerminologyOperation(
    "ConceptMap",
    "translate",
    vs.TRANSLATE_PARAMS,
    vs.TRANSLATE_UNSUPPORTED,
    parse_request=vs.translate_requests,
    ask=translate_each,
    build_answer=of_result(results.translate_parameters),
    instance=checked_id,
)


TERMINOLOGY_OPERATIONS: tuple[TerminologyOperation[Any, Any, Any], ...] = (
    LOOKUP,
    CODE_SYSTEM_VALIDATE_CODE,
    SUBSUMES,
    EXPAND,
    VALUE_SET_VALIDATE_CODE,
    TRANSLATE,
)
"""In the order the CapabilityStatement lists them."""
