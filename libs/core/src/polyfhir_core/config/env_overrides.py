"""Environment overrides: ``POLYFHIR_CONFIG__SECTION__FIELD=value`` on top of the file.

Segments after the prefix are separated by ``__`` and matched case-insensitively
(``-`` and ``_`` are equivalent). Inside ``backends`` a segment names a backend by
id (``POLYFHIR_CONFIG__BACKENDS__SEARCH__URL``) and inside ``routing`` a rule by
name; a numeric segment is a list position, and an unknown name adds an entry.
Values are strings (pydantic converts ``"true"``, ``"5000"``); a value starting
with ``[`` or ``{`` is JSON, and ``null`` clears an optional setting.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

from polyfhir_core.config.problems import ConfigError, ConfigProblem

ENV_PREFIX = "POLYFHIR_CONFIG__"
CONFIG_FILE_VARIABLE = "POLYFHIR_CONFIG_FILE"

# Lists of tables and the key that names their entries.
_IDENTITY = {"backends": "id", "routing": "name"}


class _OverrideError(Exception):
    pass


def apply_env_overrides(data: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``data`` with every ``POLYFHIR_CONFIG__*`` variable applied (sorted by name)."""
    result: dict[str, Any] = copy.deepcopy(dict(data))
    problems: list[ConfigProblem] = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        try:
            segments = _segments(name)
            _assign(result, segments, _parse_value(env[name]))
        except _OverrideError as exc:
            problems.append(ConfigProblem("invalid_env_override", str(exc), name))
    if problems:
        raise ConfigError(problems)
    return result


def _segments(name: str) -> list[str]:
    segments = name.removeprefix(ENV_PREFIX).split("__")
    if not all(segments):
        msg = "empty segment: separate names with exactly two underscores"
        raise _OverrideError(msg)
    return segments


def _parse_value(raw: str) -> Any:
    text = raw.strip()
    if text == "null":
        return None
    if text.startswith(("[", "{")):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            msg = f"value looks like JSON but does not parse: {exc}"
            raise _OverrideError(msg) from None
    return raw


def _normal(name: str) -> str:
    return name.lower().replace("-", "_")


def _assign(root: dict[str, Any], segments: list[str], value: Any) -> None:
    node: Any = root
    parent_key = ""
    for depth, segment in enumerate(segments):
        last = depth == len(segments) - 1
        if isinstance(node, dict):
            key = _dict_key(node, segment)
            if last:
                node[key] = value
                return
            if node.get(key) is None:
                node[key] = [] if key in _IDENTITY and node is root else {}
            node, parent_key = node[key], key
        elif isinstance(node, list):
            index = _list_index(node, segment, _IDENTITY.get(parent_key, "id"))
            if last:
                node[index] = value
                return
            node, parent_key = node[index], ""
        else:
            where = ".".join(segments[:depth])
            msg = f"{where} is a single value, not a table: set it whole (JSON allowed)"
            raise _OverrideError(msg)


def _dict_key(node: dict[str, Any], segment: str) -> str:
    wanted = _normal(segment)
    return next((k for k in node if _normal(str(k)) == wanted), segment.lower())


def _list_index(node: list[Any], segment: str, identity: str) -> int:
    if segment.isdigit():
        index = int(segment)
        if index >= len(node):
            msg = f"position {index} does not exist (there are {len(node)} entries)"
            raise _OverrideError(msg)
        return index
    wanted = _normal(segment)
    for index, item in enumerate(node):
        if isinstance(item, dict) and _normal(str(item.get(identity, ""))) == wanted:
            return index
    node.append({identity: segment.lower()})
    return len(node) - 1
