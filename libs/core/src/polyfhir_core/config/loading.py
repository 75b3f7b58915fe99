"""Build a validated :class:`CompositeConfig` from a TOML/YAML/JSON file and the environment."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from polyfhir_core.config.composite_config import CompositeConfig
from polyfhir_core.config.env_overrides import CONFIG_FILE_VARIABLE, apply_env_overrides
from polyfhir_core.config.problems import ConfigError, ConfigProblem
from polyfhir_core.config.roles import BackendKind, BackendRole

DEFAULT_PRIMARY_URL = "sqlite:///./data/polyfhir.db"


def _read_toml(text: str) -> Any:
    return tomllib.loads(text)


def _read_yaml(text: str) -> Any:
    return yaml.safe_load(text)


def _read_json(text: str) -> Any:
    return orjson.loads(text)


_READERS: dict[str, Callable[[str], Any]] = {
    ".toml": _read_toml,
    ".yaml": _read_yaml,
    ".yml": _read_yaml,
    ".json": _read_json,
}
_PARSE_ERRORS = (tomllib.TOMLDecodeError, yaml.YAMLError, orjson.JSONDecodeError)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The raw settings in ``path``; the suffix picks the format (toml, yaml/yml, json)."""
    file = Path(path)
    reader = _READERS.get(file.suffix.lower())
    if reader is None:
        formats = ", ".join(_READERS)
        raise _error("unsupported_format", f"unknown config format; use one of {formats}", file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _error("config_file_not_found", "no such file", file) from None
    except OSError as exc:
        raise _error("config_file_unreadable", str(exc), file) from None
    try:
        data = reader(text)
    except _PARSE_ERRORS as exc:
        raise _error("config_file_syntax", str(exc), file) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _error("config_file_syntax", "the top level must be a table/mapping", file)
    return data


def parse_config(data: Mapping[str, Any]) -> CompositeConfig:
    """Validate raw settings; every problem is reported as one :class:`ConfigError`."""
    try:
        return CompositeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            ConfigProblem("invalid_setting", error["msg"], _location(error["loc"]))
            for error in exc.errors()
        ) from None


def default_config(primary_url: str = DEFAULT_PRIMARY_URL) -> CompositeConfig:
    """The embedded layout: one primary (SQLite or PostgreSQL, from the URL), no secondaries."""
    return parse_config(_default_data(primary_url))


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> CompositeConfig:
    """Load the composite configuration.

    The file is ``path``, else ``$POLYFHIR_CONFIG_FILE``, else none (the embedded
    default). ``POLYFHIR_CONFIG__*`` variables from ``env`` are applied on top.
    ``env`` defaults to the process environment.
    """
    if env is None:
        # The config loader is a settings entry point, like a service's BaseSettings.
        env = dict(os.environ)  # noqa: TID251
    source = path if path is not None else env.get(CONFIG_FILE_VARIABLE) or None
    data = read_config_file(source) if source is not None else _default_data(DEFAULT_PRIMARY_URL)
    return parse_config(apply_env_overrides(data, env))


def _default_data(primary_url: str) -> dict[str, Any]:
    kind = BackendKind.from_url(primary_url)
    if kind is None or not kind.can_play(BackendRole.PRIMARY):
        raise ConfigError(
            [
                ConfigProblem(
                    "unsupported_primary_url",
                    "the primary url must start with sqlite:// or postgresql://",
                    "backends[0].url",
                )
            ]
        )
    backend = {"id": "primary", "role": "primary", "kind": kind.value, "url": primary_url}
    return {"backends": [backend]}


def _error(code: str, message: str, file: Path) -> ConfigError:
    return ConfigError([ConfigProblem(code, message, str(file))])


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
