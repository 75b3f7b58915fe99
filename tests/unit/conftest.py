"""Unit tests are pure: no engine, no network, no child process.

Every test under ``tests/unit`` is marked ``unit``, and a guard turns any attempt to open
a network connection or start a process into a failure, so a unit test that quietly
reached a real engine cannot pass.
"""

from __future__ import annotations

import socket
import subprocess
from typing import Any, NoReturn

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/unit/" in item.path.as_posix():
            item.add_marker(pytest.mark.unit)


def _refuse(what: str) -> Any:
    def refused(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"a unit test tried to {what}: use a fake from tests/fakes")

    return refused


@pytest.fixture(autouse=True)
def _no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _refuse("open a network connection"))
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse("open a network connection"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("start a process"))
