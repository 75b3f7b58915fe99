"""services/*/Dockerfile: images that build from the repository root with a cached dependency layer."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

Parse = Callable[[Path], list[tuple[str, str]]]


def _uv_syncs(instructions: list[tuple[str, str]]) -> list[tuple[int, str]]:
    return [
        (i, args) for i, (op, args) in enumerate(instructions) if op == "RUN" and "uv sync" in args
    ]


def test_the_dependency_layer_needs_only_the_lock_and_pyproject_files(
    services: dict[str, Any],
    workspace_members: list[Path],
    repo_root: Path,
    instructions: Parse,
) -> None:
    for name, package in services.items():
        parsed = instructions(package.directory / "Dockerfile")
        (first, deps), (second, full) = _uv_syncs(parsed)
        copied_before = " ".join(args for op, args in parsed[:first] if op == "COPY")
        for member in workspace_members:
            # uv resolves the workspace from every member's pyproject.toml
            relative = (member / "pyproject.toml").relative_to(repo_root)
            assert str(relative) in copied_before, f"{name}: {relative} is not copied"
        assert "uv.lock" in copied_before and "libs libs" not in copied_before, name
        for flags in ("--frozen", "--no-install-workspace", f"--package {package.distribution}"):
            assert flags in deps, f"{name}: dependency layer lacks {flags}"
        assert "--frozen" in full and f"--package {package.distribution}" in full, name
        copied_after = [args for op, args in parsed[first:second] if op == "COPY"]
        assert "libs libs" in copied_after and "services services" in copied_after, name


def test_images_run_the_service_as_a_non_root_user(
    services: dict[str, Any], instructions: Parse
) -> None:
    for name, package in services.items():
        parsed = instructions(package.directory / "Dockerfile")
        assert "ARG PYTHON_IMAGE=python:3.11-slim" in {f"{op} {args}" for op, args in parsed}
        user = [args for op, args in parsed if op == "USER"]
        assert user and not user[-1].startswith(("root", "0")), name
        (cmd,) = [args for op, args in parsed if op == "CMD"]
        assert shlex.split(cmd.strip("[]").replace(",", " ")) == [package.script], name


def test_images_check_liveness_on_the_port_they_listen_on(
    services: dict[str, Any], instructions: Parse
) -> None:
    for name, package in services.items():
        parsed = instructions(package.directory / "Dockerfile")
        (healthcheck,) = [args for op, args in parsed if op == "HEALTHCHECK"]
        assert "/livez" in healthcheck, name
        port = str(package.default_port)
        assert f"POLYFHIR_PORT', '{port}'" in healthcheck, name
        env = " ".join(args for op, args in parsed if op == "ENV")
        assert f"POLYFHIR_PORT={port}" in env and "POLYFHIR_HOST=0.0.0.0" in env, name
        assert ("EXPOSE", port) in parsed, name
        variables = set(re.findall(r"\b(POLYFHIR_[A-Z0-9_]+)=", env))
        assert variables <= package.env_names, name


def test_the_build_context_leaves_out_local_state(repo_root: Path) -> None:
    ignored = set((repo_root / ".dockerignore").read_text().split())
    assert {"**/.venv", ".git", ".tools", "data", "**/__pycache__"} <= ignored
