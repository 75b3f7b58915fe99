"""Property: whatever linked data tenant A holds, no path from another tenant reveals it.

For each drawn world (:mod:`isolation_world`, hypothesis with a fixed seed) A's
data is written in one transaction; then a prober tenant B — unrelated to A,
A's child ``A/child``, or A's parent — sends every probe with A's ids, identifiers,
words and terminology URLs, and a twin prober B' in the same relation to an
empty tenant sends the same probes with ghost names of the same shape. For every
probe B's answer must have the shape of B''s (status, bundle type, total, entry
types and statuses, issue codes): no id, no content, no count, no status that
tells A's data exists. No answer to B may carry A's secret word, and A's data
must be unchanged afterwards. A itself must find its data with the searches
(the positive control: an empty answer to B then means something).

``POLYFHIR_ISOLATION_EXAMPLES`` sets the number of worlds per server (default
:data:`DEFAULT_EXAMPLES`; a longer run: ``POLYFHIR_ISOLATION_EXAMPLES=200``).
The test prints the worlds, requests and probe paths it tried.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from conftest import Server
from isolation_client import RELATIONS, api, send, shape, tenants
from isolation_probes import read_probes, write_probes
from isolation_world import JSON, Targets, World, targets, transaction, worlds

pytestmark = pytest.mark.integration

DEFAULT_EXAMPLES = 6


class IsolationSettings(BaseSettings):
    """``POLYFHIR_ISOLATION_EXAMPLES``: worlds per server (a longer run sets more)."""

    model_config = SettingsConfigDict(env_prefix="POLYFHIR_", extra="ignore")

    isolation_examples: int = Field(default=DEFAULT_EXAMPLES, ge=1)


def examples() -> int:
    return IsolationSettings().isolation_examples


def _found(response: httpx.Response) -> bool:
    if response.status_code != 200:
        return False
    body = response.json()
    if body.get("resourceType") == "Bundle":
        return bool(body.get("entry"))
    return True


async def _write_world(client: httpx.AsyncClient, w: World, real: Targets) -> None:
    created = await client.post("/fhir", content=transaction(w, real), headers=JSON)
    assert created.status_code == 200, created.text


async def _positive_control(client: httpx.AsyncClient, real: Targets) -> list[str]:
    """The probes A itself answers with data (each must, or the property proves nothing)."""
    return [
        f"{probe.path} {probe.url} {probe.params}"
        for probe in read_probes(real)
        if probe.a_finds and not _found(await send(client, probe))
    ]


async def _changed(client: httpx.AsyncClient, w: World, real: Targets) -> list[str]:
    """What of A's data is no longer as A wrote it."""
    problems = []
    for rtype, ids in real.ids.items():
        for rid in ids:
            response = await client.get(f"/fhir/{rtype}/{rid}")
            if response.status_code != 200 or real.secret not in response.text:
                problems.append(f"A's {rtype}/{rid} is gone: {response.text[:200]}")
            elif response.json()["meta"]["versionId"] != "1":
                problems.append(f"A's {rtype}/{rid} was changed: {response.text[:200]}")
    everyone = await client.get("/fhir/Patient", params={"_count": "100", "_total": "accurate"})
    if everyone.json().get("total") != len(w.patients):
        problems.append(f"A's patients: {everyone.json().get('total')}, not {len(w.patients)}")
    return problems


async def _paging_links(client: httpx.AsyncClient) -> list[str]:
    """The ``next`` links of some of A's searches (paths below the FHIR base)."""
    links = []
    for path in ("/fhir/_history", "/fhir/Observation", "/fhir/Patient"):
        page = (await client.get(path, params={"_count": "1"})).json()
        links += [
            "/fhir" + link["url"].split("/fhir", 1)[1]
            for link in page.get("link", [])
            if link["relation"] == "next"
        ]
    return links


async def _compare(server: Server, relation: str, w: World, tried: Counter[str]) -> list[str]:
    owner, prober = tenants(relation)
    _, ghost_prober = tenants(relation)
    real, ghost = targets(w), targets(w, f"g{uuid.uuid4().hex[:7]}")
    leaks: list[str] = []
    async with api(server, owner) as a, api(server, prober) as b, api(server, ghost_prober) as g:
        await _write_world(a, w, real)
        misses = await _positive_control(a, real)
        assert not misses, f"A does not find its own data with: {misses}"
        for link in await _paging_links(a):  # replayed by B, and by a stranger
            answer, control = await b.get(link), await g.get(link)
            tried["paging-link-replayed"] += 2
            if real.secret in answer.text or shape(answer) != shape(control):
                leaks.append(f"{relation} paging {link}: {shape(answer)} != {shape(control)}")
        for seen, twin in zip(
            [*read_probes(real), *write_probes(real)],
            [*read_probes(ghost), *write_probes(ghost)],
            strict=True,
        ):
            answer, control = await send(b, seen), await send(g, twin)
            tried[seen.path] += 2
            if real.secret in answer.text:
                leaks.append(f"{relation} {seen.path}: A's content in {answer.text[:300]}")
            if shape(answer) != shape(control):
                leaks.append(
                    f"{relation} {seen.path} {seen.method} {seen.url} {seen.params}: "
                    f"{shape(answer)} != {shape(control)} (nothing)"
                )
        leaks += await _changed(a, w, real)
    return leaks


async def test_no_path_from_another_tenant_reveals_anything(
    isolated_server: Server, tenancy_strategy: str, record_property: Any
) -> None:
    tried: Counter[str] = Counter()
    leaks: list[str] = []
    drawn = worlds(examples())
    for index, w in enumerate(drawn):
        leaks += await _compare(isolated_server, RELATIONS[index % len(RELATIONS)], w, tried)
    requests = sum(tried.values())
    summary = (
        f"isolation [{tenancy_strategy} {isolated_server.backend}-{isolated_server.topology}]: "
        f"{len(drawn)} worlds, {requests} probe requests over {len(tried)} paths"
    )
    print(summary)
    record_property("isolation_worlds", len(drawn))
    record_property("isolation_requests", requests)
    record_property("isolation_paths", len(tried))
    assert not leaks, "\n".join([summary, *leaks])
