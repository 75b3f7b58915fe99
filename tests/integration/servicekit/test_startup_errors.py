"""A service that cannot start says why in one structured line and exits with a code
that names the kind of problem (docs/operations.md, "Exit codes") — never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _run(
    script: str, *args: str, env: dict[str, str] | None = None, cwd: Path
) -> tuple[int, list[dict[str, Any]], str]:
    done = subprocess.run(
        [str(BIN / script), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        cwd=cwd,
        timeout=120,
        check=False,
    )
    lines = [orjson.loads(line) for line in done.stderr.splitlines() if line.strip()]
    return done.returncode, lines, done.stderr


def _one_failure(lines: list[dict[str, Any]], raw: str) -> dict[str, Any]:
    assert "Traceback" not in raw
    failures = [line for line in lines if line["level"] in ("critical", "error")]
    assert len(failures) == 1, raw
    assert failures[0] is lines[-1]  # the last word
    return failures[0]


@pytest.mark.parametrize("script", ["polyfhir-primary-store", "polyfhir-gateway", "polyfhir"])
def test_a_port_out_of_range_is_a_usage_error(script: str, tmp_path: Path) -> None:
    args = ["run", "--port", "99999"] if script == "polyfhir" else ["--port", "99999"]
    code, lines, raw = _run(
        script, *args, env={"POLYFHIR_PRIMARY_URL": f"sqlite:///{tmp_path}/p.db"}, cwd=tmp_path
    )
    assert code == 2
    assert lines == [_one_failure(lines, raw)]
    assert lines[0]["msg"] == "--port 99999: not a TCP port (1-65535)"
    assert lines[0]["exit_code"] == 2


@pytest.mark.parametrize(
    ("script", "env", "says"),
    [
        (
            "polyfhir-gateway",
            {"POLYFHIR_PORT": "eighty"},
            "invalid settings: POLYFHIR_PORT: Input should be a valid integer",
        ),
        (
            "polyfhir-primary-store",
            {"POLYFHIR_PRIMARY_URL": "mysql://db/fhir"},
            "POLYFHIR_PRIMARY_URL: unsupported scheme 'mysql'",
        ),
        (
            "polyfhir-search-indexer",
            {"POLYFHIR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"},
            "invalid settings: POLYFHIR_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs POLYFHIR_KAFKA_SASL_MECHANISM",
        ),
    ],
)
def test_bad_configuration_is_one_line_and_exit_code_3(
    script: str, env: dict[str, str], says: str, tmp_path: Path
) -> None:
    code, lines, raw = _run(script, env=env, cwd=tmp_path)
    assert code == 3, raw
    failure = _one_failure(lines, raw)
    assert failure["msg"].startswith(says), failure
    assert failure["exit_code"] == 3


def test_an_invalid_composite_configuration_is_exit_code_3(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("backends:\n  - {id: primary, role: primary, kind: solr, url: x}\n")
    env = {
        "POLYFHIR_PRIMARY_URL": f"sqlite:///{tmp_path}/p.db",
        "POLYFHIR_CONFIG_FILE": str(config),
    }
    code, lines, raw = _run("polyfhir", "run", "--port", "1", env=env, cwd=tmp_path)
    assert code == 3, raw
    assert "invalid composite configuration" in _one_failure(lines, raw)["msg"]


def test_an_unreachable_database_is_retried_then_exit_code_4(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "POLYFHIR_PRIMARY_URL": f"postgresql://fhir@127.0.0.1:{port}/fhir",
        "POLYFHIR_DB_CONNECT_TIMEOUT_S": "1.5",
    }
    code, lines, raw = _run("polyfhir-primary-store", env=env, cwd=tmp_path)
    assert code == 4, raw
    failure = _one_failure(lines, raw)
    assert failure["msg"].startswith("PostgreSQL (POLYFHIR_PRIMARY_URL) unreachable after")
    retries = [line for line in lines if line["level"] == "warning"]
    assert retries and all("not reachable yet" in line["msg"] for line in retries)
    assert [line["attempt"] for line in retries] == list(range(1, len(retries) + 1))


def test_a_taken_port_is_exit_code_5(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"POLYFHIR_PRIMARY_URL": f"sqlite:///{tmp_path}/{uuid.uuid4().hex}.db"}
        code, lines, raw = _run(
            "polyfhir-primary-store", "--port", str(port), env=env, cwd=tmp_path
        )
    assert code == 5, raw
    failure = _one_failure(lines, raw)
    assert failure["msg"] == f"cannot listen on 127.0.0.1:{port}: Address already in use"


def test_a_taken_port_is_refused_with_workers_even_when_shareable(tmp_path: Path) -> None:
    """Workers bind the port with SO_REUSEPORT; a server already listening on it with
    that option too must not end up sharing it with them."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "POLYFHIR_PRIMARY_URL": f"sqlite:///{tmp_path}/{uuid.uuid4().hex}.db",
            "POLYFHIR_WORKERS": "2",
        }
        code, lines, raw = _run(
            "polyfhir-primary-store", "--port", str(port), env=env, cwd=tmp_path
        )
    assert code == 5, raw
    failure = _one_failure(lines, raw)
    assert failure["msg"] == f"cannot listen on 127.0.0.1:{port}: Address already in use"
