"""The images' Python environments, built here the way the Dockerfile builds them.

Without a Docker engine the build stage of the Dockerfile is replayed once per
service, with that service's build arguments (SERVICE, PORT) expanded as Docker
expands them: the files its COPY lines name go into a scratch build context, then
its two ``uv sync`` commands run there (dependency layer from the lock and the
pyproject files alone, then the workspace packages as wheels, not editable).
The three services are then started from those environments against the local
engines, wired like docker-compose.yml. This catches what only an image shows:
a workspace member missing from the dependency layer, package data (SQL
migrations, SearchParameter definitions) missing from a wheel, a console script
that does not start.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from polyfhir_engines.falkordb import LocalFalkorDB
from polyfhir_engines.osmem import LocalOpenSearch
from polyfhir_engines.processes import free_port, spawn, stop, wait_http
from polyfhir_engines.tansu import LocalKafka
from support import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # builds three environments

ImageBuild = Callable[[Any], list[tuple[str, str]]]
NOT_IN_CONTEXT = shutil.ignore_patterns("tests", "__pycache__", "*.pyc", ".venv", "*.egg-info")


def _uv(repo_root: Path) -> str:
    found = shutil.which("uv") or str(repo_root / ".tools/bin/uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed (make install puts it in .tools/)")
    return found


def _copy(repo_root: Path, context: Path, args: str) -> None:
    *sources, destination = shlex.split(args)
    for source in sources:
        origin = repo_root / source
        target = context / destination
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=NOT_IN_CONTEXT, dirs_exist_ok=True)
        else:
            target = target / origin.name if destination.endswith("/") else target
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)


def _build_environment(
    uv: str, repo_root: Path, instructions: list[tuple[str, str]], workdir: Path
) -> Path:
    """Replay the build stage; returns the virtual environment it produced."""
    context = workdir / "context"
    context.mkdir()
    stage = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    build = instructions[stage[1] : stage[2]]  # FROM uv, FROM build, FROM runtime
    for op, args in build:
        if op == "COPY" and not args.startswith("--from"):
            _copy(repo_root, context, args)
        elif op == "RUN" and "uv sync" in args:
            command = shlex.split(args[args.index("uv sync") :])[1:]
            done = subprocess.run(
                # the project environment is context/.venv, as /app/.venv in the image
                [uv, *command, "--python", sys.executable, "--no-python-downloads",
                 "--link-mode", "hardlink"],
                cwd=context,
                capture_output=True,
                timeout=600,
                check=False,
            )  # fmt: skip
            assert done.returncode == 0, f"{workdir.name}: {args}\n{done.stderr.decode()}"
    return context / ".venv"


@pytest.fixture(scope="module")
def image_environments(
    services: dict[str, Any],
    repo_root: Path,
    image_build: ImageBuild,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Path]:
    uv = _uv(repo_root)
    return {
        name: _build_environment(
            uv, repo_root, image_build(package), tmp_path_factory.mktemp(f"image-{name}")
        )
        for name, package in services.items()
    }  # fmt: skip


def test_each_image_holds_only_its_own_service(
    image_environments: dict[str, Path], services: dict[str, Any]
) -> None:
    for name, venv in image_environments.items():
        scripts = {path.name for path in (venv / "bin").glob("polyfhir*")}
        assert scripts == {services[name].script}, name
        # not editable: the image runs without the source tree
        site = next((venv / "lib").glob("python3.*/site-packages"))
        assert (site / services[name].package / "__init__.py").exists(), name


@pytest.fixture(scope="module")
def stack(
    image_environments: dict[str, Path],
    services: dict[str, Any],
    repo_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """gateway + primary-store + search-, graph- and terminology-indexer from the image
    environments; the FHIR base."""
    workdir = tmp_path_factory.mktemp("image-stack")
    kafka = LocalKafka(log_dir=workdir).start()
    opensearch = LocalOpenSearch(log_dir=workdir).start()
    falkordb = LocalFalkorDB(log_dir=workdir).start()
    ports = {name: free_port() for name in services}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    config = yaml.safe_load((repo_root / "deploy/config/compose.yaml").read_text())
    primary, search, graph, terminology = config["backends"]
    primary.update(kind="sqlite", url=f"sqlite:///{workdir}/polyfhir.db")
    search.update(url=opensearch.url, options={"service_url": url["search-indexer"]})
    graph.update(kind="falkordb", url=falkordb.url, options={"service_url": url["graph-indexer"]})
    terminology_url = f"sqlite:///{workdir}/terminology.db"
    terminology.update(
        kind="sqlite", url=terminology_url, options={"service_url": url["terminology-indexer"]}
    )
    config["health"].update(check_interval_ms=500, timeout_ms=400)
    # chains on the graph whatever the cost model would choose: the test is of the image
    chains = {"features": ["chain", "has"]}
    config["routing"].append({"name": "chains", "match": chains, "target": "graph"})
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    env = {
        "primary-store": {
            "POLYFHIR_PRIMARY_URL": primary["url"],
            "POLYFHIR_KAFKA_BOOTSTRAP": kafka.bootstrap,
        },
        "search-indexer": {
            "POLYFHIR_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "POLYFHIR_SEARCH_ENGINE_URL": opensearch.url,
            "POLYFHIR_CONSUMER_GROUP": f"image-{uuid.uuid4().hex[:8]}",
        },
        "graph-indexer": {
            "POLYFHIR_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "POLYFHIR_GRAPH_ENGINE_KIND": "falkordb",
            "POLYFHIR_GRAPH_ENGINE_URL": falkordb.url,
            "POLYFHIR_CONSUMER_GROUP": f"image-{uuid.uuid4().hex[:8]}",
        },
        "terminology-indexer": {
            "POLYFHIR_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "POLYFHIR_TERMINOLOGY_URL": terminology_url,
            "POLYFHIR_CONSUMER_GROUP": f"image-{uuid.uuid4().hex[:8]}",
        },
        "gateway": {
            "POLYFHIR_PRIMARY_STORE_URL": url["primary-store"],
            "POLYFHIR_CONFIG_FILE": str(workdir / "config.yaml"),
        },
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in (
            "primary-store",
            "search-indexer",
            "graph-indexer",
            "terminology-indexer",
            "gateway",
        ):
            script = image_environments[name] / "bin" / services[name].script
            port = {"POLYFHIR_HOST": "127.0.0.1", "POLYFHIR_PORT": str(ports[name])}
            procs[name] = spawn([str(script)], {**env[name], **port}, workdir / f"{name}.log")
        for name, proc in procs.items():
            wait_http(f"{url[name]}/readyz", proc, timeout=120.0)
        yield f"{url['gateway']}/fhir"
    finally:
        for proc in procs.values():
            stop(proc)
        kafka.stop()
        opensearch.stop()
        falkordb.stop()


async def test_services_from_the_images_serve_fhir_and_full_text(stack: str) -> None:
    family = f"Qwv{uuid.uuid4().hex[:8]}"
    headers = {"X-Tenant-ID": f"image-{uuid.uuid4().hex[:8]}"}
    async with httpx.AsyncClient(base_url=stack, headers=headers, timeout=30.0) as client:
        assert (await client.get("/metadata")).json()["resourceType"] == "CapabilityStatement"
        created = await client.post(
            "/Patient",
            json={"resourceType": "Patient", "name": [{"family": family}]},
            headers={"content-type": "application/fhir+json"},
        )
        assert created.status_code == 201

        async def served_by_search() -> httpx.Response | None:
            response = await client.get("/Patient", params={"_content": family})
            route = response.headers["X-Polyfhir-Route"].split(",")
            return response if response.json().get("entry") and "search" in route else None

        response = await eventually(served_by_search, within=30.0, what="_content via search")
        ids = [entry["resource"]["id"] for entry in response.json()["entry"]]
        assert ids == [created.json()["id"]]


async def test_the_graph_indexer_image_walks_chains(stack: str) -> None:
    name = f"Org{uuid.uuid4().hex[:8]}"
    headers = {
        "X-Tenant-ID": f"image-{uuid.uuid4().hex[:8]}",
        "content-type": "application/fhir+json",
    }
    async with httpx.AsyncClient(base_url=stack, headers=headers, timeout=30.0) as client:

        async def create(body: dict[str, Any]) -> str:
            created = await client.post(f"/{body['resourceType']}", json=body)
            assert created.status_code == 201, created.text
            return str(created.json()["id"])

        org = await create({"resourceType": "Organization", "name": name})
        pat = await create(
            {
                "resourceType": "Patient",
                "managingOrganization": {"reference": f"Organization/{org}"},
            }
        )
        obs = await create(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "t"},
                "subject": {"reference": f"Patient/{pat}"},
            }
        )

        async def walked_by_graph() -> httpx.Response | None:
            response = await client.get(
                "/Observation", params={"subject:Patient.organization.name": name}
            )
            route = response.headers["X-Polyfhir-Route"].split(",")
            return response if "graph" in route and response.json().get("entry") else None

        response = await eventually(walked_by_graph, within=30.0, what="a chain via the graph")
        assert [e["resource"]["id"] for e in response.json()["entry"]] == [obs]
