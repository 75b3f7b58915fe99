"""The FHIR terminology operations (docs/terminology-operations.md).

``CodeSystem/$lookup``, ``CodeSystem[/id]/$validate-code``,
``CodeSystem[/id]/$subsumes``, ``ValueSet[/id]/$validate-code``,
``ValueSet[/id]/$expand``, ``ConceptMap[/id]/$translate``: GET (query
parameters) and POST (a ``Parameters`` body), answered by the terminology
index (:class:`polyfhir_gateway.terminology.operations.TerminologyOperations`).

Every route is registered by :func:`add_operation_routes` from the table
:data:`~polyfhir_gateway.terminology.operation_table.TERMINOLOGY_OPERATIONS`
(one entry per operation). Each is a read of the type it is defined on: the
caller needs the read scope of ``CodeSystem``, ``ValueSet`` or ``ConceptMap``;
the tenant is the caller's, as everywhere. Registered before the type and
instance routes, which would read ``$expand`` as an id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from polyfhir_core.tenancy import Operation
from polyfhir_gateway.api.fhir_json import fhir_response, read_body
from polyfhir_gateway.api.interactions import ROUTE_HEADER
from polyfhir_gateway.context import FhirContext, fhir_context
from polyfhir_gateway.terminology.operation_input import OperationInput
from polyfhir_gateway.terminology.operation_table import (
    TERMINOLOGY_OPERATIONS,
    TerminologyOperation,
)

router = APIRouter(prefix="/fhir")
Ctx = Annotated[FhirContext, Depends(fhir_context)]
BOTH = ["GET", "POST"]
AnyOperation = TerminologyOperation[Any, Any, Any]


async def operation_input(fc: FhirContext, operation: AnyOperation) -> OperationInput:
    """The caller may read the operation's type; its parameters, checked against the
    names it knows and refuses (unknown ones are a 400 only with handling=strict)."""
    fc.tenant.permissions.require(Operation.READ, operation.resource_type)
    if fc.request.method == "POST":
        body = await read_body(fc.request, fc.settings.max_body_bytes)
        given = OperationInput.of_parameters(operation.label, body)
    else:
        given = OperationInput.of_query(operation.label, fc.request.query_params.multi_items())
    strict = fc.prefer.handling == "strict"
    given.check_names(operation.known, operation.unsupported, strict=strict)
    return given


async def answered(fc: FhirContext, operation: AnyOperation, instance_id: str | None) -> Response:
    """The operation's answer; ``X-Polyfhir-Route`` names the index that answered."""
    given = await operation_input(fc, operation)
    ops = fc.pipeline.terminology_ops
    body, route = await operation.run(given, fc.store, fc.tenant, instance_id, ops)
    return fhir_response(body, headers={ROUTE_HEADER: route})


def add_operation_routes(target: APIRouter, operation: AnyOperation) -> None:
    """``<type>/$<name>`` and, with an instance level, ``<type>/{rid}/$<name>``: GET and POST."""

    async def at_type_level(fc: Ctx) -> Response:
        return await answered(fc, operation, None)

    async def at_instance_level(rid: str, fc: Ctx) -> Response:
        return await answered(fc, operation, rid)

    name = f"{operation.resource_type}-{operation.name}"
    path = f"/{operation.resource_type}"
    target.add_api_route(f"{path}/${operation.name}", at_type_level, methods=BOTH, name=name)
    if operation.instance is not None:
        target.add_api_route(
            f"{path}/{{rid}}/${operation.name}",
            at_instance_level,
            methods=BOTH,
            name=f"{name}-instance",
        )


for _operation in TERMINOLOGY_OPERATIONS:
    add_operation_routes(router, _operation)
