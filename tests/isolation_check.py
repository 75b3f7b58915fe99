"""The isolation property checked for one drawn world and one tenant relation.

:func:`probe_relation` writes the world in the owner tenant, checks that the
owner finds it (positive control), replays the owner's paging links and sends
every probe from the prober (real names) and from a twin prober (ghost names),
and reports every difference, every answer carrying the owner's secret, and
any change to the owner's data. Used by the shared-header servers
(``tests/integration/tenancy``) and the token servers (``tests/integration/security``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from isolation_client import RELATIONS, ApiServer, api, send, shape, tenants
from isolation_probes import read_probes, write_probes
from isolation_world import JSON, Targets, World, targets, transaction, worlds

DEFAULT_EXAMPLES = 3  # one world per relation (unrelated, child, parent); CI-sized


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


async def probe_relation(
    server: ApiServer, relation: str, w: World, tried: Counter[str]
) -> list[str]:
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


@dataclass
class IsolationRun:
    """What one server's run tried and found."""

    summary: str = ""
    worlds: int = 0
    tried: Counter[str] = field(default_factory=Counter)
    leaks: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.tried.values())

    @property
    def paths(self) -> int:
        return len(self.tried)


async def check_isolation(server: ApiServer, name: str) -> IsolationRun:
    """``POLYFHIR_ISOLATION_EXAMPLES`` worlds, the relations taken in turn."""
    run = IsolationRun()
    drawn = worlds(examples())
    for index, w in enumerate(drawn):
        relation = RELATIONS[index % len(RELATIONS)]
        run.leaks += await probe_relation(server, relation, w, run.tried)
    run.worlds = len(drawn)
    run.summary = (
        f"isolation [{name}]: {run.worlds} worlds, {run.requests} probe requests"
        f" over {run.paths} paths"
    )
    return run
