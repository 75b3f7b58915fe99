"""Bulk data and jobs across tenants: another tenant's ``$export`` (kick-off and output),
job status, files, cancellation and the admin job routes reveal nothing of tenant A.

A generated world (:mod:`isolation_world`) lives in A; A exports it. A prober B
(unrelated, A's child, A's parent) exports its own data and probes A's job under
its real id and URLs, and a twin prober B' does the same with a job id that
exists nowhere: the answers must be alike, no file B can read holds A's secret,
and A's job and files stay as they were.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from bulk_client import export, kick_off, manifest
from conftest import Server
from isolation_client import RELATIONS, api, shape, tenants
from isolation_world import JSON, Targets, World, targets, transaction, worlds

pytestmark = pytest.mark.integration


def _job_urls(status_url: str, body: dict[str, Any]) -> tuple[str, list[str]]:
    """A's job id and every URL a client of A's job may call (status, files)."""
    job = status_url.rstrip("/").rsplit("/", 1)[1]
    files = [entry["url"] for part in ("output", "error") for entry in body.get(part, [])]
    return job, [status_url, *files]


def _path(url: str) -> str:
    return "/fhir" + url.split("/fhir", 1)[1]


async def _exported_text(fhir: httpx.AsyncClient, body: dict[str, Any]) -> str:
    texts = [(await fhir.get(entry["url"])).text for entry in body.get("output", [])]
    return "\n".join(texts)


async def _probe_job(
    b: httpx.AsyncClient, g: httpx.AsyncClient, job: str, urls: list[str], relation: str
) -> list[str]:
    ghost = uuid.uuid4().hex
    leaks = []
    probes = [("GET", _path(u)) for u in urls]
    probes += [
        ("GET", f"/admin/reindex/{job}"),
        ("GET", f"/admin/backends/search/jobs/{job}"),
        ("DELETE", f"/admin/reindex/{job}"),
        ("DELETE", _path(urls[0])),  # cancel A's export
    ]
    for method, path in probes:
        answer = await b.request(method, path)
        control = await g.request(method, path.replace(job, ghost))
        if shape(answer) != shape(control):
            leaks.append(f"{relation} {method} {path}: {shape(answer)} != {shape(control)}")
    listed = (await b.get("/admin/jobs")).text
    if job in listed:
        leaks.append(f"{relation} /admin/jobs lists A's job {job}")
    return leaks


async def _one_relation(server: Server, relation: str, w: World) -> tuple[list[str], int]:
    owner, prober = tenants(relation)
    _, ghost_prober = tenants(relation)
    real: Targets = targets(w)
    async with api(server, owner) as a, api(server, prober) as b, api(server, ghost_prober) as g:
        created = await a.post("/fhir", content=transaction(w, real), headers=JSON)
        assert created.status_code == 200, created.text
        async with server.client(owner) as fa, server.client(prober) as fb:
            status_url = await kick_off(fa, "/$export")
            a_manifest = await manifest(fa, _path(status_url).removeprefix("/fhir"))
            assert real.secret in await _exported_text(fa, a_manifest)  # the positive control
            leaks = []
            for path in ("/$export", "/Patient/$export"):
                mine = await export(fb, path)
                if real.secret in await _exported_text(fb, mine):
                    leaks.append(f"{relation} {path}: B's export holds A's data")
            job, urls = _job_urls(status_url, a_manifest)
            leaks += await _probe_job(b, g, job, urls, relation)
            still = await fa.get(_path(status_url).removeprefix("/fhir"))
            if still.status_code != 200 or real.secret not in await _exported_text(fa, a_manifest):
                leaks.append(f"{relation}: A's export was cancelled or its files removed by B")
    return leaks, len(urls) + 8


async def test_bulk_export_and_jobs_of_another_tenant_reveal_nothing(
    isolated_server: Server, tenancy_strategy: str
) -> None:
    leaks: list[str] = []
    requests = 0
    for relation, w in zip(RELATIONS, worlds(len(RELATIONS)), strict=True):
        found, sent = await _one_relation(isolated_server, relation, w)
        leaks += found
        requests += sent
    print(
        f"isolation bulk [{tenancy_strategy} {isolated_server.backend}-"
        f"{isolated_server.topology}]: {len(RELATIONS)} relations, {requests} probe requests"
    )
    assert not leaks, "\n".join(leaks)
