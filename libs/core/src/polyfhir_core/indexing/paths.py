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
from functools import lru_cache
from typing import Any, NamedTuple

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


class Node(NamedTuple):
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


# Inside a program, nodes are ``(value, FHIR type)`` pairs (cheaper than Node objects);
# an evaluator wraps the ones it returns.
Pair = tuple[Any, str | None]
Op = Callable[[list[Pair]], list[Pair]]


def _capitalised(name: str) -> str:
    return name[0].upper() + name[1:]


def _extend(out: list[Pair], found: Any, hint: str | None) -> None:
    if found is None:
        return
    if isinstance(found, list):
        out.extend([(item, hint) for item in found if item is not None])
    else:
        out.append((found, hint))


def _child(name: str, as_type: str | None) -> Op:
    """``name`` of each dict; ``name`` + a datatype suffix when it is a choice element."""
    if as_type is not None:
        key, typed = name + _capitalised(as_type), _capitalised(as_type)

        def child_as(pairs: list[Pair]) -> list[Pair]:
            out: list[Pair] = []
            for value, _ in pairs:
                if isinstance(value, dict):
                    found, hint = value.get(key), typed
                    if found is None and name in value:
                        found, hint = value[name], as_type
                    _extend(out, found, hint)
            return out

        return child_as
    choices = {name + suffix: suffix for suffix in CHOICE_TYPES}
    choice_keys = frozenset(choices)

    def child(pairs: list[Pair]) -> list[Pair]:
        out: list[Pair] = []
        for value, _ in pairs:
            if not isinstance(value, dict):
                continue
            if name in value:
                _extend(out, value[name], None)
            elif not choice_keys.isdisjoint(value):
                for key, item in value.items():
                    if key in choices:
                        _extend(out, item, choices[key])
        return out

    return child


def _typed(as_type: str) -> Op:
    """``as`` on an already-typed node (a non-choice element): keep matching types."""

    def typed(pairs: list[Pair]) -> list[Pair]:
        return [(v, t) for v, t in pairs if t in (None, as_type) or t.lower() == as_type]

    return typed


def _index(n: int) -> Op:
    return lambda pairs: pairs[n : n + 1]


def _where_eq(name: str, expected: str) -> Op:
    def where(pairs: list[Pair]) -> list[Pair]:
        return [(v, t) for v, t in pairs if isinstance(v, dict) and v.get(name) == expected]

    return where


def _resolve_is(rtype: str) -> Op:
    return lambda pairs: [(v, t) for v, t in pairs if _reference_type(v) == rtype]


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


def _ops(steps: list[Step]) -> list[Op]:
    ops: list[Op] = []
    i = 1
    while i < len(steps):
        kind, arg, extra = steps[i]
        if kind == "child":
            as_type = None
            if i + 1 < len(steps) and steps[i + 1][0] == "as":
                as_type = steps[i + 1][1]
                i += 1
            ops.append(_child(arg, as_type))
        elif kind == "as":
            ops.append(_typed(arg))
        elif kind == "index":
            ops.append(_index(extra))
        elif kind == "where-eq":
            ops.append(_where_eq(arg, extra))
        elif kind == "resolve-is":
            ops.append(_resolve_is(arg))
        i += 1
    return ops


def _program(steps: list[Step]) -> Callable[[dict[str, Any]], list[Pair]]:
    root = steps[0][1]
    any_type = root in ("Resource", "DomainResource")
    ops = _ops(steps)

    def run(resource: dict[str, Any]) -> list[Pair]:
        if not any_type and resource.get("resourceType") != root:
            return []
        pairs: list[Pair] = [(resource, root)]
        for op in ops:
            pairs = op(pairs)
            if not pairs:
                break
        return pairs

    return run


def _present_not_false(steps: list[Step]) -> Evaluator:
    run = _program(steps)

    def evaluate(resource: dict[str, Any]) -> list[Node]:
        pairs = run(resource)
        # FHIRPath: an empty collection fails exists(); one item equal to false fails !=.
        value = bool(pairs) and not (len(pairs) == 1 and pairs[0][0] is False)
        return [Node(value, "boolean")]

    return evaluate


def _fast(expression: str) -> Evaluator:
    if match := _PRESENT_NOT_FALSE.match(expression.strip()):
        return _present_not_false(_parse_path(match["path"]))
    programs = [_program(_parse_branch(branch)) for branch in split_union(expression)]
    if len(programs) == 1:
        (run,) = programs

        def evaluate_one(resource: dict[str, Any]) -> list[Node]:
            return [Node(v, t) for v, t in run(resource)]

        return evaluate_one

    def evaluate(resource: dict[str, Any]) -> list[Node]:
        return [Node(v, t) for run in programs for v, t in run(resource)]

    return evaluate


@lru_cache(maxsize=8192)
def top_level_keys(
    expression: str, *, root_keys: frozenset[str] | None = None
) -> frozenset[str] | None:
    """Keys of which a resource must have one for ``expression`` to select anything.

    None when any resource may give a value (the boolean form, an expression
    outside the fast path, a root-only branch such as ``Observation`` unless
    the caller knows ``root_keys`` for it): the caller then always evaluates.
    """
    if _PRESENT_NOT_FALSE.match(expression.strip()):
        return None
    try:
        branches = [_parse_branch(branch) for branch in split_union(expression)]
    except _Unsupported:
        return None
    keys: set[str] = set()
    for steps in branches:
        if len(steps) == 1 and root_keys is not None:
            keys.update(root_keys)
        elif len(steps) < 2 or steps[1][0] != "child":
            return None
        elif len(steps) > 2 and steps[2][0] == "as":
            keys.update((steps[1][1], steps[1][1] + _capitalised(steps[2][1])))
        else:
            keys.update((steps[1][1], *(steps[1][1] + suffix for suffix in CHOICE_TYPES)))
    return frozenset(keys)


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
