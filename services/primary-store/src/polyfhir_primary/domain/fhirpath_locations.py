"""Where a FHIRPath Patch path points inside a resource's JSON (pure).

A patch has to change the element a path selects, so evaluating the path to values
(what ``fhirpathpy`` returns: copies) is not enough; this walks the JSON and keeps
each element's place. Supported: element names (the first may be the resource
type), ``[n]``, ``first()``, ``last()`` and ``where(criteria)``, whose criteria
``fhirpathpy`` evaluates on each candidate. Anything else is 400 not-supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fhirpathpy import compile as fhirpath_compile
from fhirpathpy.models import models

from polyfhir_core.errors import BadRequest, NotSupported

ELEMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_NAME_INDEXED = re.compile(r"([A-Za-z][A-Za-z0-9_]*)\[(\d+)\]")
_WHERE = re.compile(r"where\((.+)\)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Location:
    """One element: ``container[key]``; ``keys`` is its JSON path from the resource root."""

    container: Any
    key: Any
    keys: tuple[str | int, ...]

    @property
    def value(self) -> Any:
        return self.container[self.key]


def split_path(path: str) -> list[str]:
    """The dot-separated steps of ``path``, leaving dots inside () and quotes alone."""
    steps, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(path):
        if char == "'" and (i == 0 or path[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ".":
            steps.append(path[start:i].strip())
            start = i + 1
    steps.append(path[start:].strip())
    if any(not step for step in steps) or depth != 0 or quoted:
        raise BadRequest(f"FHIRPath Patch path {path!r} is not a valid path")
    return steps


def locate(resource: dict[str, Any], path: str) -> list[Location]:
    """Every element ``path`` selects in ``resource``, in document order."""
    return locate_steps(resource, split_path(path))


def locate_steps(resource: dict[str, Any], steps: list[str]) -> list[Location]:
    root = Location({"": resource}, "", ())
    if steps and steps[0] == resource.get("resourceType"):
        steps = steps[1:]
    current = [root]
    for step in steps:
        current = _apply_step(current, step)
    return current


def _apply_step(current: list[Location], step: str) -> list[Location]:
    if step == "first()":
        return current[:1]
    if step == "last()":
        return current[-1:]
    if where := _WHERE.fullmatch(step):
        criteria = where.group(1)
        return [loc for loc in current if _matches(loc.value, criteria)]
    if indexed := _NAME_INDEXED.fullmatch(step):
        children = list(_children(current, indexed.group(1)))
        position = int(indexed.group(2))
        return children[position : position + 1]
    if ELEMENT_NAME.fullmatch(step):
        return list(_children(current, step))
    raise NotSupported(
        f"FHIRPath Patch paths may use element names, [n], first(), last() and where();"
        f" {step!r} is not supported"
    )


def _children(current: list[Location], name: str) -> Iterator[Location]:
    for loc in current:
        node = loc.value
        if not isinstance(node, dict) or name not in node:
            continue
        child = node[name]
        if isinstance(child, list):
            for index in range(len(child)):
                yield Location(child, index, (*loc.keys, name, index))
        else:
            yield Location(node, name, (*loc.keys, name))


@lru_cache(maxsize=256)
def _compiled(criteria: str) -> Any:
    try:
        return fhirpath_compile(criteria, models["r4"])
    except Exception as exc:  # fhirpathpy raises several kinds of parse errors
        raise BadRequest(f"where({criteria}) is not valid FHIRPath: {exc}") from exc


def _matches(node: Any, criteria: str) -> bool:
    evaluate = _compiled(criteria)
    try:
        return bool(evaluate(node) == [True])
    except Exception as exc:  # evaluation errors of a client's expression
        raise BadRequest(f"where({criteria}) could not be evaluated: {exc}") from exc
