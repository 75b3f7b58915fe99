"""The search the foundation needs: _id, identifier, _lastUpdated, _count and paging."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import Server

pytestmark = pytest.mark.integration

SYS = "urn:oid:1.2.36.146.595.217.0.1"


async def _seed(fhir: httpx.AsyncClient, n: int) -> list[str]:
    ids = []
    for i in range(n):
        body = {
            "resourceType": "Patient",
            "identifier": [{"system": SYS, "value": f"MRN{i}"}],
            "gender": "female" if i % 2 else "male",
        }
        ids.append((await fhir.post("/Patient", json=body)).json()["id"])
    return ids


async def test_search_by_id_and_identifier(fhir: httpx.AsyncClient) -> None:
    ids = await _seed(fhir, 3)
    by_id = (await fhir.get("/Patient", params={"_id": f"{ids[0]},{ids[2]}"})).json()
    assert sorted(e["resource"]["id"] for e in by_id["entry"]) == sorted([ids[0], ids[2]])
    assert all(e["search"]["mode"] == "match" for e in by_id["entry"])
    for value, expected in [
        (f"{SYS}|MRN1", 1),
        ("MRN1", 1),
        ("other|MRN1", 0),
        (f"{SYS}|", 3),
        ("|MRN1", 0),
    ]:
        found = (await fhir.get("/Patient", params={"identifier": value})).json()
        assert found["total"] == expected, value


async def test_a_long_id_list_finds_exactly_its_resources(fhir: httpx.AsyncClient) -> None:
    """Hundreds of ids (how the graph path hands the primary a walk's candidates) are
    bound as one argument above ID_LIST_AS_ONE_ARGUMENT: same matches, totals, paging."""
    ids = await _seed(fhir, 3)
    unknown = [f"nobody-{n}" for n in range(300)]
    wanted = ",".join([*unknown[:150], ids[0], *unknown[150:], ids[2]])
    page = (await fhir.post("/Patient/_search", data={"_id": wanted, "_count": "1"})).json()
    assert page["total"] == 2
    assert [e["resource"]["id"] for e in page["entry"]] == [min(ids[0], ids[2])]
    others = (
        await fhir.post("/Patient/_search", data={"_id:not": ",".join([*unknown, ids[1]])})
    ).json()
    assert sorted(e["resource"]["id"] for e in others["entry"]) == sorted([ids[0], ids[2]])


async def test_search_token_not_and_gender(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir, 4)
    assert (await fhir.get("/Patient", params={"gender": "female"})).json()["total"] == 2
    assert (await fhir.get("/Patient", params={"gender:not": "female"})).json()["total"] == 2


async def test_search_last_updated_prefixes(fhir: httpx.AsyncClient) -> None:
    ids = await _seed(fhir, 2)
    stamp = (await fhir.get(f"/Patient/{ids[0]}")).json()["meta"]["lastUpdated"]
    year = stamp[:4]
    assert (await fhir.get("/Patient", params={"_lastUpdated": year})).json()["total"] == 2
    assert (await fhir.get("/Patient", params={"_lastUpdated": f"gt{int(year) + 1}"})).json()[
        "total"
    ] == 0
    assert (await fhir.get("/Patient", params={"_lastUpdated": f"ge{stamp}"})).json()["total"] >= 1
    assert (await fhir.get("/Patient", params={"_lastUpdated": f"lt{int(year) - 1}"})).json()[
        "total"
    ] == 0


async def test_paging_with_count(fhir: httpx.AsyncClient) -> None:
    ids = await _seed(fhir, 5)
    seen: list[str] = []
    url: str | None = "/Patient?_count=2"
    pages = 0
    while url and pages < 10:
        bundle = (await fhir.get(url)).json()
        assert bundle["total"] == 5
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nxt[0] if nxt else None
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(ids)


def _links(bundle: dict[str, Any]) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle["link"]}


async def test_first_previous_and_last_links_walk_the_pages(fhir: httpx.AsyncClient) -> None:
    ids = await _seed(fhir, 5)
    middle = (await fhir.get("/Patient", params={"_count": "2", "_offset": "2"})).json()
    links = _links(middle)
    assert set(links) == {"self", "first", "previous", "next", "last"}
    first = (await fhir.get(links["first"])).json()
    assert "previous" not in _links(first)
    previous = (await fhir.get(links["previous"])).json()
    assert [e["resource"]["id"] for e in previous["entry"]] == [
        e["resource"]["id"] for e in first["entry"]
    ]
    last = (await fhir.get(links["last"])).json()
    assert [e["resource"]["id"] for e in last["entry"]] == [sorted(ids)[-1]]
    assert "next" not in _links(last)
    uncounted = (await fhir.get("/Patient", params={"_count": "2", "_total": "none"})).json()
    assert "last" not in _links(uncounted)


async def test_without_sort_matches_come_in_id_order_and_updates_do_not_move_them(
    fhir: httpx.AsyncClient,
) -> None:
    ids = await _seed(fhir, 6)
    first = (await fhir.get("/Patient", params={"_count": "3"})).json()
    page = [e["resource"]["id"] for e in first["entry"]]
    assert page == sorted(ids)[:3]
    # an update changes _lastUpdated, never the place of a resource in the default order
    moved = (await fhir.get(f"/Patient/{page[0]}")).json()
    moved["gender"] = "other"
    assert (await fhir.put(f"/Patient/{page[0]}", json=moved)).status_code == 200
    second = (await fhir.get("/Patient", params={"_count": "3", "_offset": "3"})).json()
    assert [e["resource"]["id"] for e in second["entry"]] == sorted(ids)[3:]
    by_update = (await fhir.get("/Patient", params={"_sort": "_lastUpdated"})).json()
    assert by_update["entry"][-1]["resource"]["id"] == page[0]


async def test_summary_count_and_total_none(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir, 2)
    counted = (await fhir.get("/Patient", params={"_summary": "count"})).json()
    assert counted["total"] == 2
    assert "entry" not in counted
    no_total = (await fhir.get("/Patient", params={"_total": "none"})).json()
    assert "total" not in no_total
    assert len(no_total["entry"]) == 2


async def test_total_estimate_is_exact_for_small_results(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir, 3)
    estimated = (await fhir.get("/Patient", params={"_total": "estimate", "_count": "1"})).json()
    assert estimated["total"] == 3
    assert len(estimated["entry"]) == 1
    male = (await fhir.get("/Patient", params={"_total": "estimate", "gender": "male"})).json()
    assert male["total"] == 2


async def _seed_batch(fhir: httpx.AsyncClient, n: int) -> None:
    for start in range(0, n, 50):
        entries = [
            {
                "resource": {"resourceType": "Patient", "gender": "female" if i % 2 else "male"},
                "request": {"method": "POST", "url": "Patient"},
            }
            for i in range(start, min(n, start + 50))
        ]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        assert (await fhir.post("/", json=bundle)).status_code == 200


async def test_totals_beyond_the_estimate_cap(fhir: httpx.AsyncClient, server: Server) -> None:
    await _seed_batch(fhir, 230)  # 115 male: both beyond the cap of 100 exact matches

    async def total(**params: str) -> int:
        response = await fhir.get("/Patient", params=params)
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    assert await total(_total="accurate") == 230
    assert await total(_total="accurate", gender="male") == 115
    assert await total(_total="accurate", gender="male", _count="10", _offset="100") == 115
    assert await total(_total="estimate", gender="male") > 100  # counted to the cap, then guessed
    assert await total(gender="female", _count="1", _id="nonexistent") == 0
    # no _total: the server's choice; accurate on SQLite, an estimate on PostgreSQL
    default = await total(gender="male")
    assert default == 115 if server.backend == "sqlite" else default > 100
    page = (await fhir.get("/Patient", params={"gender": "male", "_count": "50"})).json()
    assert len(page["entry"]) == 50
    assert {e["resource"]["gender"] for e in page["entry"]} == {"male"}


async def test_totals_and_pages_agree_within_the_cap(fhir: httpx.AsyncClient) -> None:
    await _seed_batch(fhir, 70)  # 35 male, 35 female
    seen: list[str] = []
    for offset in (0, 20):
        params = {"gender": "male", "_count": "20", "_offset": str(offset)}
        bundle = (await fhir.get("/Patient", params=params)).json()
        assert bundle["total"] == 35  # exact: counted with the page
        seen += [e["resource"]["id"] for e in bundle["entry"]]
    assert len(seen) == len(set(seen)) == 35
    listed = (await fhir.get("/Patient", params={"gender": "male", "_count": "100"})).json()
    assert [e["resource"]["id"] for e in listed["entry"]] == seen  # one order across pages


async def test_unknown_parameter_lenient_and_strict(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir, 2)
    lenient = await fhir.get("/Patient", params={"nonsense": "x", "gender": "male"})
    assert lenient.status_code == 200
    assert lenient.json()["total"] == 1
    self_link = next(link["url"] for link in lenient.json()["link"] if link["relation"] == "self")
    assert "nonsense" not in self_link and "gender=male" in self_link
    strict = await fhir.get(
        "/Patient", params={"nonsense": "x"}, headers={"Prefer": "handling=strict"}
    )
    assert strict.status_code == 400


async def test_post_search(fhir: httpx.AsyncClient) -> None:
    await _seed(fhir, 3)
    response = await fhir.post("/Patient/_search", data={"identifier": f"{SYS}|MRN2"})
    assert response.status_code == 200
    assert response.json()["total"] == 1


@pytest.mark.parametrize(
    "params",
    [{"_count": "abc"}, {"_lastUpdated": "not-a-date"}, {"_id": ""}, {"_sort": "no-such-param"}],
)
async def test_bad_search_parameters_are_400(
    fhir: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await fhir.get("/Patient", params=params)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_a_resource_matching_through_several_index_rows_counts_once(
    fhir: httpx.AsyncClient,
) -> None:
    # 60 patients, each found through two name rows and two coding rows: 120 index rows,
    # more than the 101 matches the store counts exactly before it estimates
    def patient(n: int) -> dict[str, object]:
        return {
            "resourceType": "Patient",
            "name": [{"family": f"Smith{n}", "given": ["Smitty"]}],
            "maritalStatus": {
                "coding": [{"system": "urn:a", "code": "M"}, {"system": "urn:b", "code": "M"}]
            },
        }

    for start in (0, 30):
        entries = [
            {"resource": patient(n), "request": {"method": "POST", "url": "Patient"}}
            for n in range(start, start + 30)
        ]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        assert (await fhir.post("/", json=bundle)).status_code == 200
    for params in (
        {"name": "smi"},
        {"marital-status": "M"},
        {"name": "smi", "marital-status": "M"},
    ):
        for count in ("7", "100"):
            bundle = (await fhir.get("/Patient", params={**params, "_count": count})).json()
            assert bundle["total"] == 60, params
            ids = [e["resource"]["id"] for e in bundle["entry"]]
            assert len(ids) == len(set(ids)) == min(60, int(count)), params


async def test_a_chain_matching_through_several_references_counts_once(
    fhir: httpx.AsyncClient,
) -> None:
    # 150 reports, each with two results that satisfy the chain: 300 reference rows
    for oid in ("o1", "o2"):
        obs = {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        }
        assert (await fhir.put(f"/Observation/{oid}", json=obs)).status_code == 201
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "panel"},
        "result": [{"reference": "Observation/o1"}, {"reference": "Observation/o2"}],
    }
    for _ in range(5):
        entries = [{"resource": report, "request": {"method": "POST", "url": "DiagnosticReport"}}]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries * 30}
        assert (await fhir.post("/", json=bundle)).status_code == 200

    async def ids(params: dict[str, str]) -> tuple[int, list[str]]:
        bundle = (await fhir.get("/DiagnosticReport", params=params)).json()
        return bundle["total"], [e["resource"]["id"] for e in bundle.get("entry", [])]

    chain = {"result:Observation.code": "8867-4"}
    for params in (chain, {**chain, "status": "final"}):
        total, everything = await ids({**params, "_count": "200", "_total": "accurate"})
        assert total == 150 and len(set(everything)) == 150, params
        for count, offset in (("7", "0"), ("100", "0"), ("7", "140"), ("20", "40")):
            total, page = await ids({**params, "_count": count, "_offset": offset})
            assert total == 150, params  # a chain's matches are counted exactly up to 1,000
            assert page == everything[int(offset) : int(offset) + int(count)], params


async def test_totals_follow_updates_and_deletes(fhir: httpx.AsyncClient) -> None:
    # counted from index rows (code, then each date tested): a deleted resource and one
    # whose code changed are no longer counted, and no other rows stand in for them
    def observation(n: int, code: str) -> dict[str, object]:
        return {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "effectiveDateTime": f"2025-0{1 + n % 6}-15",
        }

    ids = [
        (await fhir.post("/Observation", json=observation(n, "8867-4"))).json()["id"]
        for n in range(6)
    ]
    await fhir.post("/Observation", json=observation(0, "2339-0"))
    query = {"code": "8867-4", "date": ["ge2025-01-01", "lt2025-06-01"]}

    async def found(total: str) -> tuple[int, list[str]]:
        page = (await fhir.get("/Observation", params={**query, "_total": total})).json()
        # a page beyond every match: the count statement answers, not the page's own count
        alone = {**query, "_total": total, "_count": "1", "_offset": "200"}
        assert (await fhir.get("/Observation", params=alone)).json()["total"] == page["total"]
        return page["total"], sorted(e["resource"]["id"] for e in page.get("entry", []))

    in_range = sorted(ids[:5])  # the sixth is dated June
    for total in ("accurate", "estimate"):
        assert await found(total) == (5, in_range)
    assert (await fhir.delete(f"/Observation/{ids[0]}")).status_code in (200, 204)
    recoded = {**observation(1, "2339-0"), "id": ids[1]}
    assert (await fhir.put(f"/Observation/{ids[1]}", json=recoded)).status_code == 200
    for total in ("accurate", "estimate"):
        assert await found(total) == (3, sorted(ids[2:5]))
