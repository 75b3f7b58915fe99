"""The stack with Kafka behind SASL (docker-compose.yml + deploy/compose/kafka-sasl.yml):
apache/kafka with a SASL_PLAINTEXT listener, the services authenticating with
SCRAM-SHA-512. A resource written through the gateway is found by full text through
the search-indexer, so both the outbox relay and the indexer's consumer got in.

Started through pytest-docker (``get_docker_services``, a project of its own beside
``test_compose_stack``'s) wherever a Docker engine with the compose plugin answers;
skipped with the reason elsewhere. It builds the images, so expect minutes.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from pytest_docker.plugin import Services, get_docker_ip, get_docker_services

from compose_engine import assert_written_and_found_by_search, docker_problem
from polyfhir_engines.processes import free_port

pytestmark = [pytest.mark.compose, pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parents[2]
FILES = [str(ROOT / "docker-compose.yml"), str(ROOT / "deploy" / "compose" / "kafka-sasl.yml")]


@dataclass(frozen=True)
class SaslStack:
    services: Services
    compose: str  # `docker compose ... -f ... -p ...`, for `ps` and `exec`


@pytest.fixture(scope="module")
def sasl_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslStack]:
    problem = docker_problem()
    if problem is not None:
        pytest.skip(problem)
    env_file = tmp_path_factory.mktemp("compose-sasl") / "stack.env"
    env_file.write_text(
        f"POLYFHIR_GATEWAY_PORT={free_port()}\n"
        f"POLYFHIR_PROMETHEUS_PORT={free_port()}\n"
        f"POLYFHIR_GRAFANA_PORT={free_port()}\n"
        f"KAFKA_ADMIN_PASSWORD=admin-{uuid.uuid4().hex[:12]}\n"
        f"POLYFHIR_KAFKA_SASL_PASSWORD=svc-{uuid.uuid4().hex[:12]}\n"
    )
    command = f'docker compose --project-directory "{ROOT}" --env-file "{env_file}"'
    project = f"polyfhir-sasl-{uuid.uuid4().hex[:8]}"
    files = " ".join(f'-f "{f}"' for f in FILES)
    with get_docker_services(
        command,
        FILES,
        project,
        ["up --detach --build --wait --wait-timeout 900"],
        ["down --volumes --remove-orphans"],
    ) as services:
        yield SaslStack(services, f'{command} {files} -p "{project}"')


@pytest.fixture(scope="module")
def gateway_url(sasl_stack: SaslStack) -> str:
    port = sasl_stack.services.port_for("gateway", 8080)
    base = f"http://{get_docker_ip()}:{port}/fhir"

    def answers() -> bool:
        try:
            return httpx.get(f"{base}/metadata", timeout=5.0).status_code == 200
        except httpx.HTTPError:
            return False

    sasl_stack.services.wait_until_responsive(check=answers, timeout=120.0, pause=1.0)
    return base


def test_the_scram_user_was_created_before_the_services(sasl_stack: SaslStack) -> None:
    shown = subprocess.run(
        f"{sasl_stack.compose} ps --all --format json kafka-users",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    )
    (users,) = [orjson.loads(line) for line in shown.stdout.splitlines() if line.strip()]
    assert (users["State"], users["ExitCode"]) == ("exited", 0)


async def test_a_write_is_found_by_full_text_through_the_sasl_listener(gateway_url: str) -> None:
    await assert_written_and_found_by_search(gateway_url, "sasl")
