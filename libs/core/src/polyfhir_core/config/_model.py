"""The base every configuration model shares, and field-by-field overriding."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    """Frozen, and a misspelt key is an error rather than a silently ignored setting."""

    model_config = ConfigDict(frozen=True, extra="forbid")


_M = TypeVar("_M", bound=ConfigModel)


def overlay(base: _M, override: ConfigModel | None) -> _M:
    """``base`` with the fields explicitly set in ``override`` replaced, validated again.

    Raises :class:`pydantic.ValidationError` when the combination is invalid
    (e.g. an override's ``initial_backoff_ms`` above the default ``max_backoff_ms``).
    """
    if override is None:
        return base
    data = base.model_dump()
    data.update(override.model_dump(include=set(override.model_fields_set)))
    return type(base).model_validate(data)
