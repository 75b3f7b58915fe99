"""The Dockerfile: one image per service (build arguments SERVICE and PORT), each built
from the repository root with a cached dependency layer.

Every property is checked for every service, on the instructions as Docker sees
them with that service's build arguments (``conftest.dockerfile_instructions``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dockerfile_build import dockerfile_instructions, image_command, image_variables

pytestmark = pytest.mark.unit

ImageBuild = Callable[[Any], list[tuple[str, str]]]


def _uv_syncs(instructions: list[tuple[str, str]]) -> list[tuple[int, str]]:
    return [
        (i, args) for i, (op, args) in enumerate(instructions) if op == "RUN" and "uv sync" in args
    ]


def test_the_dependency_layer_needs_only_the_lock_and_pyproject_files(
    services: dict[str, Any],
    workspace_members: list[Path],
    repo_root: Path,
    image_build: ImageBuild,
) -> None:
    for name, package in services.items():
        parsed = image_build(package)
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
    services: dict[str, Any], image_build: ImageBuild
) -> None:
    for name, package in services.items():
        parsed = image_build(package)
        assert "ARG PYTHON_IMAGE=python:3.11-slim" in {f"{op} {args}" for op, args in parsed}
        user = [args for op, args in parsed if op == "USER"]
        assert user and not user[-1].startswith(("root", "0")), name
        useradd = " ".join(args for op, args in parsed if op == "RUN" and "useradd" in args)
        assert "--uid 10001" in useradd and "/app/data" in useradd, name
        # PID 1 is the service's console script, so docker stop's SIGTERM reaches it
        assert image_command(parsed) == [package.script], name
        assert image_variables(parsed)["PYTHONUNBUFFERED"] == "1", name


def test_images_check_liveness_on_the_port_they_listen_on(
    services: dict[str, Any], image_build: ImageBuild
) -> None:
    for name, package in services.items():
        parsed = image_build(package)
        (healthcheck,) = [args for op, args in parsed if op == "HEALTHCHECK"]
        # the probe runs in the container: it reads the port from the image's environment
        assert "/livez" in healthcheck and "os.environ['POLYFHIR_PORT']" in healthcheck, name
        port = str(package.default_port)
        env = image_variables(parsed)
        assert env["POLYFHIR_PORT"] == port and env["POLYFHIR_HOST"] == "0.0.0.0", name
        assert ("EXPOSE", port) in parsed, name
        variables = {variable for variable in env if variable.startswith("POLYFHIR_")}
        assert variables <= package.env_names, name


def test_compose_builds_every_service_from_the_dockerfile_with_its_arguments(
    compose_services: dict[str, dict[str, Any]],
    services: dict[str, Any],
    repo_root: Path,
    dockerfile: Path,
) -> None:
    built = {name: s["build"] for name, s in compose_services.items() if "build" in s}
    assert {build["args"]["SERVICE"] for build in built.values()} == set(services)
    for name, build in built.items():
        package = services[build["args"]["SERVICE"]]
        assert build["context"] == "." and repo_root / build["dockerfile"] == dockerfile, name
        assert build["args"] == package.build_args, name
        image = compose_services[name]["image"]
        assert image.split("/")[-1].split(":")[0] == build["args"]["SERVICE"], name


def test_a_build_argument_reaches_only_the_stages_that_declare_it(tmp_path: Path) -> None:
    # what the checks above rely on: a stage that forgot `ARG SERVICE` gets no value
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "ARG BASE=python:3.11-slim\nFROM ${BASE} AS build\nARG SERVICE\n"
        "RUN uv sync --package polyfhir-${SERVICE}\nFROM ${BASE}\nENV SCRIPT=polyfhir-${SERVICE}\n"
    )
    parsed = dockerfile_instructions(dockerfile, {"SERVICE": "gateway"})
    assert ("RUN", "uv sync --package polyfhir-gateway") in parsed
    assert ("FROM", "python:3.11-slim") in parsed
    assert image_variables(parsed) == {"SCRIPT": "polyfhir-${SERVICE}"}


def test_the_build_context_leaves_out_local_state(repo_root: Path) -> None:
    ignored = set((repo_root / ".dockerignore").read_text().split())
    assert {"**/.venv", ".git", ".tools", "data", "**/__pycache__"} <= ignored
