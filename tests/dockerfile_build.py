"""A Dockerfile as ``docker build --build-arg ...`` reads it, without a Docker engine.

``tests/deploy`` checks the one Dockerfile's properties for every service with
that service's build arguments, and replays its build stage with uv; both need
the instructions with the variables expanded where, and only where, Docker
expands them.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from string import Template

import orjson


def _logical_lines(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line, continuations joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


# Instructions whose arguments Docker expands with the ARG and ENV values in scope
# (RUN's shell sees them as variables); CMD and HEALTHCHECK run later, in the
# container, where only ENV values exist.
_EXPANDED_AT_BUILD = {"ADD", "COPY", "ENV", "EXPOSE", "LABEL", "RUN", "USER", "VOLUME", "WORKDIR"}


def _declared_arg(args: str, build_args: dict[str, str], outer: dict[str, str]) -> tuple[str, str]:
    name, has_default, default = args.partition("=")
    if name in build_args:
        return name, build_args[name]
    return name, default if has_default else outer.get(name, "")


def dockerfile_instructions(dockerfile: Path, build_args: dict[str, str]) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as ``docker build --build-arg ...`` sees them.

    Variables are expanded the way Docker scopes them: an ARG before the first
    FROM is seen only by FROM lines, and inside a stage only once the stage
    declares it again; ENV values from then on. A variable not in scope (PATH of
    the base image) is left as written.
    """
    global_args: dict[str, str] = {}
    scope: dict[str, str] | None = None  # None: before the first FROM
    expanded: list[tuple[str, str]] = []
    for op, written in _logical_lines(dockerfile):
        args = written
        if op == "FROM":
            args, scope = Template(written).safe_substitute(global_args), {}
        elif op == "ARG" and scope is None:
            name, value = _declared_arg(written, build_args, {})
            global_args[name] = value
        elif op == "ARG" and scope is not None:
            name, value = _declared_arg(written, build_args, global_args)
            scope[name] = value
        elif op in _EXPANDED_AT_BUILD and scope is not None:
            args = Template(written).safe_substitute(scope)
            if op == "ENV":
                scope.update(image_variables([(op, args)]))
        expanded.append((op, args))
    return expanded


def image_variables(instructions: list[tuple[str, str]]) -> dict[str, str]:
    """The variables the ENV lines of the last stage set (the container's environment)."""
    last_stage = max((i for i, (op, _) in enumerate(instructions) if op == "FROM"), default=0)
    env: dict[str, str] = {}
    for op, args in instructions[last_stage:]:
        if op == "ENV":
            pairs = [word.partition("=") for word in shlex.split(args) if "=" in word]
            env.update((name, value) for name, _, value in pairs)
    return env


def image_command(instructions: list[tuple[str, str]]) -> list[str]:
    """The argv of the container's PID 1: the CMD, and through ``sh -c 'exec ...'``
    the program the shell replaces itself with (ENV values expanded)."""
    (cmd,) = [args for op, args in instructions if op == "CMD"]
    argv: list[str] = orjson.loads(cmd) if cmd.startswith("[") else ["/bin/sh", "-c", cmd]
    if argv[:2] not in (["/bin/sh", "-c"], ["sh", "-c"]) or len(argv) != 3:
        return argv
    words = shlex.split(Template(argv[2]).safe_substitute(image_variables(instructions)))
    return words[1:] if words[:1] == ["exec"] else argv
