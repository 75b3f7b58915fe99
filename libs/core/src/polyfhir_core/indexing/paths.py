"""Evaluate SearchParameter expressions on a resource.

The official definitions use a small subset of FHIRPath: dotted paths,
``(path as Type)`` / ``.as(Type)`` on choice elements, ``.where(name='x')``,
``.where(resolve() is Type)``, ``[n]`` and one boolean form
(``X.exists() and X != false``). Those compile to a list of steps
evaluated directly on the JSON (the fast path, ~10x cheaper than a general
FHIRPath engine); anything else, including a tenant's own expressions, is
compiled once with ``fhirpathpy`` against the R4 model. Both return the same
nodes; ``tests/indexing`` compares them over the official examples.

Each node carries the FHIR type when the path reveals it (a choice element's
suffix, an ``as``), which the converters use before guessing from the shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fhirpathpy import compile as fhirpath_compile
from fhirpathpy.models import models

from polyfhir_core.registry import split_union

# Datatype suffixes of R4 choice elements (``valueQuantity``, ``onsetDateTime``...).
CHOICE_TYPES = frozenset(
    [
        "Base64Binary",
        "Boolean",
        "Canonical",
        "Code",
        "Date",
        "DateTime",
        "Decimal",
        "Id",
        "Instant",
        "Integer",
        "Markdown",
        "Oid",
        "PositiveInt",
        "String",
        "Time",
        "UnsignedInt",
        "Uri",
        "Url",
        "Uuid",
        "Address",
        "Age",
        "Annotation",
        "Attachment",
        "CodeableConcept",
        "Coding",
        "ContactPoint",
        "Count",
        "Distance",
        "Duration",
        "HumanName",
        "Identifier",
        "Money",
        "Period",
        "Quantity",
        "Range",
        "Ratio",
        "Reference",
        "SampledData",
        "Signature",
        "Timing",
        "ContactDetail",
        "Contributor",
        "DataRequirement",
        "Expression",
        "ParameterDefinition",
        "RelatedArtifact",
        "TriggerDefinition",
        "UsageContext",
        "Dosage",
        "Meta",
    ]
)


@dataclass(frozen=True, slots=True)
class Node:
    value: Any
    fhir_type: str | None = None


Evaluator = Callable[[dict[str, Any]], list[Node]]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_AS_BRANCH = re.compile(rf"^\((?P<path>[^()]+?) as (?P<type>{_NAME})\)(?P<rest>(\.[^|]*)?)$")
_STEP_AS = re.compile(rf"^(?:as|ofType)\((?P<type>{_NAME})\)$")
_STEP_WHERE_EQ = re.compile(rf"^where\((?P<name>{_NAME})\s*=\s*'(?P<value>[^']*)'\)$")
_STEP_RESOLVE = re.compile(rf"^where\(resolve\(\) is (?P<type>{_NAME})\)$")
_STEP_NAME = re.compile(rf"^(?P<name>{_NAME})(?:\[(?P<index>\d+)\])?$")
# ``Patient.deceased.exists() and Patient.deceased != false``: one boolean.
_PRESENT_NOT_FALSE = re.compile(r"^(?P<path>[^|()]+)\.exists\(\) and (?P=path) != false$")


class _Unsupported(Exception):
    """The expression is outside the fast-path subset."""


def _split_steps(path: str) -> list[str]:
    steps, depth, start = [], 0, 0
    for i, ch in enumerate(path):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "." and depth == 0:
            steps.append(path[start:i])
            start = i + 1
    steps.append(path[start:])
    return steps


Step = tuple[str, str, Any]  # (kind, argument, extra)


def _parse_branch(branch: str) -> list[Step]:
    branch = branch.strip()
    match = _AS_BRANCH.match(branch)
    if match:
        steps = _parse_path(match["path"])
        steps.append(("as", match["type"], None))
        rest = match["rest"].lstrip(".")
        if rest:
            steps.extend(_parse_steps(_split_steps(rest)))
        return steps
    return _parse_path(branch)


def _parse_path(path: str) -> list[Step]:
    raw = _split_steps(path.strip())
    if not raw or not re.fullmatch(_NAME, raw[0]) or not raw[0][0].isupper():
        raise _Unsupported(path)
    return [("root", raw[0], None), *_parse_steps(raw[1:])]


def _parse_steps(raw: Iterable[str]) -> list[Step]:
    steps: list[Step] = []
    for item in raw:
        text = item.strip()
        if m := _STEP_AS.match(text):
            steps.append(("as", m["type"], None))
        elif m := _STEP_RESOLVE.match(text):
            steps.append(("resolve-is", m["type"], None))
        elif m := _STEP_WHERE_EQ.match(text):
            steps.append(("where-eq", m["name"], m["value"]))
        elif m := _STEP_NAME.match(text):
            steps.append(("child", m["name"], None))
            if m["index"] is not None:
                steps.append(("index", "", int(m["index"])))
        else:
            raise _Unsupported(text)
    return steps


def _children(value: Any, name: str, as_type: str | None) -> list[Node]:
    if not isinstance(value, dict):
        return []
    if as_type is not None:
        key = name + as_type[0].upper() + as_type[1:]
        found = value.get(key)
        hint = as_type[0].upper() + as_type[1:]
        if found is None and name in value:
            found, hint = value[name], as_type
        return _nodes(found, hint)
    if name in value:
        return _nodes(value[name], None)
    out: list[Node] = []
    for key, item in value.items():
        if key.startswith(name) and key[len(name) :] in CHOICE_TYPES:
            out.extend(_nodes(item, key[len(name) :]))
    return out


def _nodes(found: Any, hint: str | None) -> list[Node]:
    if found is None:
        return []
    if isinstance(found, list):
        return [Node(item, hint) for item in found if item is not None]
    return [Node(found, hint)]


def _reference_type(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    reference = value.get("reference")
    if isinstance(reference, str):
        parts = reference.split("/_history/")[0].split("/")
        if len(parts) >= 2:
            return parts[-2]
    kind = value.get("type")
    return kind if isinstance(kind, str) else None


def _run(steps: list[Step], resource: dict[str, Any]) -> list[Node]:
    root = steps[0][1]
    if root not in ("Resource", "DomainResource") and resource.get("resourceType") != root:
        return []
    nodes = [Node(resource, root)]
    i = 1
    while i < len(steps) and nodes:
        kind, arg, extra = steps[i]
        if kind == "child":
            as_type = None
            if i + 1 < len(steps) and steps[i + 1][0] == "as":
                as_type = steps[i + 1][1]
                i += 1
            nodes = [child for node in nodes for child in _children(node.value, arg, as_type)]
        elif kind == "as":
            # ``as`` on an already-typed node (a non-choice element): keep matching types.
            nodes = [n for n in nodes if n.fhir_type in (None, arg) or n.fhir_type.lower() == arg]
        elif kind == "index":
            nodes = nodes[extra : extra + 1]
        elif kind == "where-eq":
            nodes = [n for n in nodes if isinstance(n.value, dict) and n.value.get(arg) == extra]
        elif kind == "resolve-is":
            nodes = [n for n in nodes if _reference_type(n.value) == arg]
        i += 1
    return nodes


def _present_not_false(steps: list[Step]) -> Evaluator:
    def evaluate(resource: dict[str, Any]) -> list[Node]:
        nodes = _run(steps, resource)
        # FHIRPath: an empty collection fails exists(); one item equal to false fails !=.
        value = bool(nodes) and not (len(nodes) == 1 and nodes[0].value is False)
        return [Node(value, "boolean")]

    return evaluate


def _fast(expression: str) -> Evaluator:
    if match := _PRESENT_NOT_FALSE.match(expression.strip()):
        return _present_not_false(_parse_path(match["path"]))
    programs = [_parse_branch(branch) for branch in split_union(expression)]

    def evaluate(resource: dict[str, Any]) -> list[Node]:
        out: list[Node] = []
        for steps in programs:
            out.extend(_run(steps, resource))
        return out

    return evaluate


def _general(expression: str) -> Evaluator:
    program = fhirpath_compile(expression, models["r4"])

    def evaluate(resource: dict[str, Any]) -> list[Node]:
        return [Node(value) for value in program(resource, {}) if value is not None]

    return evaluate


@lru_cache(maxsize=8192)
def compile_expression(expression: str, *, general: bool = False) -> Evaluator:
    """Compile once; ``general=True`` forces fhirpathpy (used to cross-check the fast path)."""
    if not general:
        try:
            return _fast(expression)
        except _Unsupported:
            pass
    return _general(expression)


def is_fast(expression: str) -> bool:
    try:
        _fast(expression)
    except _Unsupported:
        return False
    return True
