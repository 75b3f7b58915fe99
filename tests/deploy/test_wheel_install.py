"""``pip install polyfhir`` then ``polyfhir stack``: the distribution runs without dev tooling.

The workspace is built into wheels, and a fresh virtual environment gets the
locked third-party runtime dependencies (``uv sync --no-dev
--no-install-workspace``, offline from uv's cache) and then the polyfhir wheels
themselves, all but ``polyfhir-testing`` (the pytest fixtures, a dev
dependency). ``uv pip check`` proves every wheel's declared dependencies are
met there, so nothing the stack needs hides in the dev group: a launcher that
still lived in ``polyfhir_testing`` would fail here with ModuleNotFoundError.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from polyfhir_engines.processes import child_env, free_port, stop
from support import until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

DEV_ONLY = ("polyfhir_testing", "pytest", "carebundle")


def _uv(repo_root: Path) -> str:
    found = shutil.which("uv") or str(repo_root / ".tools/bin/uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed (make install puts it in .tools/)")
    return found


def _run(args: list[str], cwd: Path, **env: str) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, timeout=400, check=False, env=child_env(env)
    )
    assert done.returncode == 0, f"{args}\n{done.stdout.decode()}\n{done.stderr.decode()}"
    return done.stdout.decode()


@pytest.fixture(scope="module")
def installed(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment holding the polyfhir distribution; its bin directory."""
    uv, work = _uv(repo_root), tmp_path_factory.mktemp("wheel-install")
    wheels, venv = work / "wheels", work / "venv"
    _run(
        [uv, "build", "--all-packages", "--wheel", "--out-dir", str(wheels), "--offline"], repo_root
    )
    _run(
        [uv, "sync", "--frozen", "--no-dev", "--no-install-workspace", "--offline",
         "--python", sys.executable, "--no-python-downloads", "--link-mode", "hardlink",
         "--compile-bytecode"],
        repo_root,
        UV_PROJECT_ENVIRONMENT=str(venv),
    )  # fmt: skip
    ours = [str(w) for w in sorted(wheels.glob("*.whl")) if "polyfhir_testing" not in w.name]
    python = str(venv / "bin" / "python")
    _run(
        [uv, "pip", "install", "--python", python, "--offline", "--no-deps", "--compile-bytecode",
         *ours],
        work,
    )  # fmt: skip
    _run([uv, "pip", "check", "--python", python], work)
    return venv / "bin"


def test_the_installed_cli_and_launchers_need_no_dev_package(installed: Path) -> None:
    help_text = _run([str(installed / "polyfhir"), "stack", "--help"], installed)
    assert "--postgres" in help_text
    probe = (
        "import importlib.util, os, pathlib\n"
        "from polyfhir_engines.tansu import LocalKafka\n"
        "from polyfhir_engines.osmem import LocalOpenSearch\n"
        "from polyfhir_engines.postgres import PostgresEngine\n"
        "from polyfhir_engines.local_stack import LocalStack\n"
        "from polyfhir_engines.supervisor import Supervisor\n"
        "engines = (LocalKafka(), LocalOpenSearch(), PostgresEngine(pathlib.Path('unused')))\n"
        "print([os.access(e.command()[0], os.X_OK) for e in engines])\n"
        f"print([importlib.util.find_spec(m) is None for m in {DEV_ONLY!r}])\n"
    )
    lines = _run([str(installed / "python"), "-c", probe], installed).splitlines()
    assert lines == ["[True, True, True]", "[True, True, True]"]


@pytest.fixture
def stack_from_wheel(installed: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port, log = free_port(), tmp_path / "stack.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(installed / "polyfhir"), "stack", "--port", str(port), "--sync", "hybrid",
             "--data", str(tmp_path / "data")],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        until(lambda: b"FHIR API" in log.read_bytes() or proc.poll() is not None, 180, "stack")
        assert proc.poll() is None, log.read_text()[-3000:]
        yield f"http://127.0.0.1:{port}/fhir", log
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stop(proc)
    assert proc.returncode == 0, log.read_text()[-3000:]


def test_polyfhir_stack_from_the_wheel_serves_full_text(stack_from_wheel: tuple[str, Path]) -> None:
    base, _ = stack_from_wheel
    word = "zq" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:8])
    headers = {"X-Tenant-ID": f"t{uuid.uuid4().hex[:12]}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30.0) as fhir:
        created = fhir.post(
            "/Patient", json={"resourceType": "Patient", "name": [{"family": word}]}
        )
        assert created.status_code == 201, created.text
        found = fhir.get("/Patient", params={"_content": word})  # hybrid: searchable on return
    assert found.status_code == 200, found.text
    assert [e["resource"]["id"] for e in found.json()["entry"]] == [created.json()["id"]]
    assert "search" in found.headers["x-polyfhir-route"].split(",")
