"""Whether ``docker compose`` can run here, for the compose stack tests (pytest-docker)."""

from __future__ import annotations

import shutil
import subprocess


def docker_problem() -> str | None:
    """Why no compose stack can start here (the skip reason), or None when one can."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    for command, what in (
        (["docker", "info"], "Docker engine"),
        (["docker", "compose", "version"], "docker compose plugin"),
    ):
        try:
            done = subprocess.run(command, capture_output=True, timeout=30, check=False)
        except subprocess.TimeoutExpired:
            return f"{' '.join(command)} timed out"
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip().splitlines()[:1]
            return f"no {what} answers ({' '.join(command)}: {reason[0] if reason else done.returncode})"
    return None
