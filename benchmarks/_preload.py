"""``mix.py --preload N``: a large database before the server starts, and the facts of it.

Loading 1M resources through HTTP takes ~20 min on PostgreSQL and far longer on
SQLite, so the ``N`` patients go straight into the store service with
``bulkload.py``'s loader: carebundle templates cloned (clone *k*: template *k mod
200* with its own identifier and a family name tagged per clone generation), one
transaction each through ``StoreService.process`` (SQLite: up to ``SQLITE_GROUP``
clones merged into one transaction, ``bulkload.transactions``), so the resources,
versions, index rows, full-text documents and outbox rows are those of normal writes. Then
the planner statistics are brought up to date and (PostgreSQL) the search's
indexes read into shared buffers, as ``search.py`` does before it measures.

The mix then runs on top: its ingest phase POSTs the next clones (``N`` to
``N + patients``: the same data growing), and the values its queries draw
(families, codes, words, the patients read) come from what is loaded, so each
query keeps the selectivity it has in that data.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson

from bulkload import analyze, bulk_load, clone, family_tag, prewarm, templates, workers_for

Facts = dict[str, list[str]]
PATIENT_SAMPLE = 2000  # preloaded Patient ids the CRUD mix reads (a random sample: ids are uuids)
# SQLite: clones merged per transaction (``bulkload.transactions``): its one writer spends
# what a transaction costs once per 100 patients, not per patient
SQLITE_GROUP = 100


def preload(url: str, backend: str, patients: int, workers: int) -> None:
    """Load ``patients`` cloned carebundle patients into ``url``, analyse, prewarm."""
    sqlite = backend == "sqlite"
    created, seconds = bulk_load(
        url,
        0,
        patients,
        workers=workers_for(backend, workers),
        group=SQLITE_GROUP if sqlite else 1,
        defer_indexes=sqlite,
    )
    print(
        f"{backend}: preloaded {patients:,} patients, {created:,} resources"
        f" in {seconds:,.0f} s ({created / seconds:,.0f}/s)",
        flush=True,
    )
    started = time.perf_counter()
    asyncio.run(analyze(url))
    asyncio.run(prewarm(url))
    print(
        f"{backend}: analysed and prewarmed in {time.perf_counter() - started:,.0f} s", flush=True
    )


def ingest_bundles(preloaded: int, patients: int) -> list[bytes]:
    """The ingest phase's bundles on top of ``preloaded`` patients: the next clones."""
    tpl = templates()
    return [orjson.dumps(clone(tpl, k)) for k in range(preloaded, preloaded + patients)]


def loaded_families(preloaded: int) -> list[str]:
    """The family name of every preloaded patient (clone k: its template's, tagged)."""
    tpl = templates()
    base = [  # one Patient per template
        entry["resource"]["name"][0]["family"]
        for raw in tpl
        for entry in orjson.loads(raw)["entry"]
        if entry["resource"]["resourceType"] == "Patient"
    ]
    return [base[k % len(tpl)] + family_tag(k, len(tpl)) for k in range(preloaded)]


async def patient_sample(base: str, limit: int = PATIENT_SAMPLE) -> list[str]:
    """Ids of up to ``limit`` stored Patients, read through the API (first pages)."""
    ids: list[str] = []
    url: str | None = f"{base}/Patient?_count=1000&_elements=id"
    async with aiohttp.ClientSession() as session:
        while url and len(ids) < limit:
            async with session.get(url) as response:
                response.raise_for_status()
                page: dict[str, Any] = orjson.loads(await response.read())
            ids += [e["resource"]["id"] for e in page.get("entry", []) if "resource" in e]
            url = next(
                (link["url"] for link in page.get("link", []) if link["relation"] == "next"), None
            )
    return ids[:limit]
