"""Whether ``docker compose`` can run here, for the compose stack tests (pytest-docker)."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import httpx

from support import eventually


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


async def assert_written_and_found_by_search(gateway_url: str, tenant_prefix: str) -> None:
    """A Patient written through the gateway is found by ``_content`` on the search
    backend (``X-Polyfhir-Route`` names it) within 90 s: the event went primary-store
    (relay) -> Kafka -> search-indexer. The bound covers the gateway's health monitor
    seeing the search-indexer healthy after a cold start (until then the primary
    answers, which is correct but not what this checks)."""
    tenant = f"{tenant_prefix}-{uuid.uuid4().hex[:8]}"
    family = f"Zyx{uuid.uuid4().hex[:8]}"
    headers = {"X-Tenant-ID": tenant, "content-type": "application/fhir+json"}
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30.0, headers=headers) as client:
        created = await client.post(
            "/Patient", json={"resourceType": "Patient", "name": [{"family": family}]}
        )
        assert created.status_code == 201, created.text
        patient_id = created.json()["id"]

        async def served_by_search() -> httpx.Response | None:
            response = await client.get("/Patient", params={"_content": family})
            ids = [e["resource"]["id"] for e in response.json().get("entry", [])]
            route = response.headers["X-Polyfhir-Route"].split(",")
            return response if patient_id in ids and "search" in route else None

        response = await eventually(served_by_search, within=90.0, what="_content via search")
        assert response.json()["entry"][0]["resource"]["name"][0]["family"] == family
