"""FHIRPath Patch (fhirpatch.html): a Parameters resource of ``operation`` parameters.

Each operation has a ``type`` (add, insert, delete, replace, move), a ``path`` and,
by type, ``name``, ``value``, ``index``, ``source``, ``destination``. A ``value`` is
a ``value[x]`` or, for elements without a datatype of their own, nested parts.
Operations apply in order to one working copy. A path that must select one element
and selects none or several, an index out of range, or adding to an element that
is already set is 422; the caller validates the result like any write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import fhirkit

from polyfhir_core.errors import BadRequest, NotSupported, Unprocessable
from polyfhir_primary.domain.fhirpath_locations import (
    ELEMENT_NAME,
    Location,
    locate,
    locate_steps,
    split_path,
)

OPERATION_TYPES = ("add", "insert", "delete", "replace", "move")


@dataclass(frozen=True, slots=True)
class Operation:
    type: str
    path: str
    parts: dict[str, Any]

    def needs(self, name: str) -> Any:
        if self.parts.get(name) is None:
            raise BadRequest(f"FHIRPath Patch {self.type} at {self.path!r} needs a {name!r} part")
        return self.parts[name]

    def needs_index(self, name: str) -> int:
        value = self.needs(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadRequest(f"FHIRPath Patch {name!r} must be a non-negative integer")
        return value


def apply_fhirpath_patch(resource: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Apply every operation of ``parameters`` to ``resource`` in place, and return it."""
    for operation in parse_operations(parameters):
        _APPLY[operation.type](resource, operation)
    return resource


def parse_operations(parameters: dict[str, Any]) -> list[Operation]:
    entries = parameters.get("parameter")
    if not isinstance(entries, list) or not entries:
        raise BadRequest("a FHIRPath Patch needs at least one 'operation' parameter")
    return [_operation(entry) for entry in entries]


def _operation(entry: Any) -> Operation:
    if not isinstance(entry, dict) or entry.get("name") != "operation":
        raise BadRequest("every parameter of a FHIRPath Patch is named 'operation'")
    parts = _parts(entry.get("part"))
    kind, path = parts.get("type"), parts.get("path")
    if kind not in OPERATION_TYPES:
        raise BadRequest(f"FHIRPath Patch type must be one of {', '.join(OPERATION_TYPES)}")
    if not isinstance(path, str) or not path.strip():
        raise BadRequest("every FHIRPath Patch operation needs a 'path'")
    return Operation(kind, path.strip(), parts)


def _parts(raw: Any) -> dict[str, Any]:
    """Part name -> value; a name given several times becomes a list (a repeating element)."""
    if not isinstance(raw, list):
        raise BadRequest("a FHIRPath Patch operation carries its details as 'part'")
    values: dict[str, Any] = {}
    for part in raw:
        if not isinstance(part, dict) or not isinstance(part.get("name"), str):
            raise BadRequest("every part of a FHIRPath Patch operation has a name")
        value = _part_value(part)
        name = part["name"]
        if name in values:
            previous = values[name]
            values[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            values[name] = value
    return values


def _part_value(part: dict[str, Any]) -> Any:
    for key, value in part.items():
        if key.startswith("value") and key != "value":
            return value
    if "resource" in part:
        return part["resource"]
    if "part" in part:
        return _parts(part["part"])
    return None


def _single(resource: dict[str, Any], operation: Operation) -> Location:
    found = locate(resource, operation.path)
    if operation.type != "add" and any(not loc.keys for loc in found):
        raise Unprocessable(f"FHIRPath Patch {operation.type} cannot apply to the resource itself")
    if len(found) != 1:
        many = "no element" if not found else f"{len(found)} elements"
        raise Unprocessable(
            f"FHIRPath Patch {operation.type}: {operation.path!r} selects {many};"
            " it must select one"
        )
    return found[0]


def _list_at(resource: dict[str, Any], operation: Operation, *, create: bool) -> list[Any]:
    """The list a path ending in an element name denotes (``Patient.identifier``)."""
    *parent_steps, name = split_path(operation.path)
    if not ELEMENT_NAME.fullmatch(name):
        raise NotSupported(
            f"FHIRPath Patch {operation.type}: the path must end in the list's element name"
        )
    parents = locate_steps(resource, parent_steps)
    if len(parents) != 1 or not isinstance(parents[0].value, dict):
        raise Unprocessable(f"FHIRPath Patch {operation.type}: {operation.path!r} is not one list")
    owner = parents[0].value
    if name not in owner and create:
        owner[name] = []
    items = owner.get(name)
    if not isinstance(items, list):
        raise Unprocessable(f"FHIRPath Patch {operation.type}: {operation.path!r} is not a list")
    return items


def _add(resource: dict[str, Any], operation: Operation) -> None:
    target = _single(resource, operation)
    name, value = operation.needs("name"), operation.needs("value")
    node = target.value
    if not isinstance(name, str) or not isinstance(node, dict):
        raise Unprocessable(f"FHIRPath Patch add: {operation.path!r} cannot hold {name!r}")
    existing = node.get(name)
    if isinstance(existing, list):
        existing.append(value)
    elif existing is not None:
        raise Unprocessable(
            f"FHIRPath Patch add: {operation.path}.{name} is already set (use replace)"
        )
    else:
        repeats = _repeats(resource["resourceType"], target.keys, name, value)
        node[name] = [value] if repeats else value


def _insert(resource: dict[str, Any], operation: Operation) -> None:
    items = _list_at(resource, operation, create=True)
    index, value = operation.needs_index("index"), operation.needs("value")
    if index > len(items):
        raise Unprocessable(f"FHIRPath Patch insert: index {index} is past the list's end")
    items.insert(index, value)


def _delete(resource: dict[str, Any], operation: Operation) -> None:
    found = locate(resource, operation.path)
    if not found:
        return  # "delete ... (if found)"
    _remove(resource, _single(resource, operation))


def _remove(resource: dict[str, Any], target: Location) -> None:
    del target.container[target.key]
    if isinstance(target.container, list) and not target.container:
        owner_keys, name = target.keys[:-2], target.keys[-2]
        owner: Any = resource
        for key in owner_keys:
            owner = owner[key]
        del owner[name]  # FHIR JSON has no empty arrays


def _replace(resource: dict[str, Any], operation: Operation) -> None:
    target = _single(resource, operation)
    target.container[target.key] = operation.needs("value")


def _move(resource: dict[str, Any], operation: Operation) -> None:
    items = _list_at(resource, operation, create=False)
    source, destination = operation.needs_index("source"), operation.needs_index("destination")
    if source >= len(items) or destination >= len(items):
        raise Unprocessable(f"FHIRPath Patch move: index out of range for {operation.path!r}")
    items.insert(destination, items.pop(source))


def _repeats(rtype: str, keys: tuple[str | int, ...], name: str, value: Any) -> bool:
    """Whether element ``name`` under ``keys`` repeats (a JSON array), asked of fhirkit.

    A probe resource holds only the path down to the new element, given as an array;
    fhirkit names the element if it must be a single value.
    """
    probe: dict[str, Any] = {"resourceType": rtype}
    node, path = probe, rtype
    for position, key in enumerate(keys):
        if isinstance(key, int):
            continue
        child: dict[str, Any] = {}
        is_list = position + 1 < len(keys) and isinstance(keys[position + 1], int)
        node[key] = [child] if is_list else child
        path += f".{key}[0]" if is_list else f".{key}"
        node = child
    node[name] = [value]
    expected = f"{path}.{name}"
    return not any(
        issue.path == expected and "expected a single value" in issue.message
        for issue in fhirkit.validate(probe)
    )


_APPLY = {
    "add": _add,
    "insert": _insert,
    "delete": _delete,
    "replace": _replace,
    "move": _move,
}
