"""The real stack from docker-compose.yml: built images, PostgreSQL, Kafka, OpenSearch.

Started through pytest-docker (its ``docker_services`` fixture runs ``docker compose up``
and ``down``) wherever a Docker engine with the compose plugin answers; elsewhere every
test here is skipped with the reason. It builds the images, so expect minutes.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from pytest_docker.plugin import Services

from compose_engine import assert_written_and_found_by_search, docker_problem
from polyfhir_engines.processes import free_port

pytestmark = [pytest.mark.compose, pytest.mark.timeout(3600)]  # builds three images


# pytest-docker runs `docker compose <command> -f <file> -p <project> <setup>`; these
# session fixtures override its defaults (tests/docker-compose.yml, `up --build --wait`).


@pytest.fixture(scope="session")
def compose_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Free host ports for the published services of this run."""
    env_file = tmp_path_factory.mktemp("compose") / "stack.env"
    env_file.write_text(
        f"POLYFHIR_GATEWAY_PORT={free_port()}\n"
        f"POLYFHIR_GATEWAY_ADMIN_PORT={free_port()}\n"
        f"POLYFHIR_PROMETHEUS_PORT={free_port()}\n"
        f"POLYFHIR_GRAFANA_PORT={free_port()}\n"
    )
    return env_file


@pytest.fixture(scope="session")
def docker_compose_command(compose_env_file: Path) -> str:
    root = Path(__file__).resolve().parents[2]
    return f'docker compose --project-directory "{root}" --env-file "{compose_env_file}"'


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(Path(__file__).resolve().parents[2] / "docker-compose.yml")


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"polyfhir-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    # --wait: every healthcheck green (and the one-shot migrate service exited 0)
    return ["up --detach --build --wait --wait-timeout 900"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["down --volumes --remove-orphans"]


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Services:
    """The compose stack, started by pytest-docker; skipped where no Docker engine answers."""
    problem = docker_problem()
    if problem is not None:
        pytest.skip(problem)
    services: Services = request.getfixturevalue("docker_services")
    return services


@pytest.fixture(scope="module")
def gateway_url(stack: Services, docker_ip: str) -> str:
    base = f"http://{docker_ip}:{stack.port_for('gateway', 8080)}/fhir"

    def answers() -> bool:
        try:
            return httpx.get(f"{base}/metadata", timeout=5.0).status_code == 200
        except httpx.HTTPError:
            return False

    stack.wait_until_responsive(check=answers, timeout=120.0, pause=1.0)
    return base


def test_migrations_ran_once_before_the_primary_store(
    stack: Services,
    docker_compose_command: str,
    docker_compose_file: str,
    docker_compose_project_name: str,
) -> None:
    shown = subprocess.run(
        f'{docker_compose_command} -f "{docker_compose_file}" -p "{docker_compose_project_name}"'
        " ps --all --format json migrate",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    )
    (migrate,) = [orjson.loads(line) for line in shown.stdout.splitlines() if line.strip()]
    assert (migrate["State"], migrate["ExitCode"]) == ("exited", 0)


async def test_stack_serves_the_fhir_api(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30.0) as client:
        metadata = await client.get("/metadata")
        assert metadata.status_code == 200
        assert metadata.json()["resourceType"] == "CapabilityStatement"


async def test_full_text_search_is_served_by_the_search_index(gateway_url: str) -> None:
    await assert_written_and_found_by_search(gateway_url, "compose")
