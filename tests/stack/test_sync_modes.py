"""Writes become searchable through the search secondary under every SyncMode."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from polyfhir_engines.local_stack import LocalStack
from stack.conftest import eventually, fhir_client, ids, make_stack, patient, route

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["asynchronous", "synchronous", "hybrid"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    with make_stack(tmp_path_factory.mktemp(request.param), request.param) as s:
        yield s


def test_a_write_is_found_by_full_text_in_every_mode(
    stack: LocalStack, tenant: str, marker: str
) -> None:
    with fhir_client(stack, tenant) as fhir:
        created = fhir.post("/Patient", json=patient(marker))
        assert created.status_code == 201, created.text
        pid = created.json()["id"]
        # Asynchronous: the gateway waits up to max_read_lag_ms for the index, else asks the
        # primary; either way the answer already holds the write.
        found = fhir.get("/Patient", params={"_text": marker})
        assert found.status_code == 200, found.text
        assert ids(found.json()) == [pid]

        # And the search secondary itself catches up and serves it.
        def served_by_search() -> httpx.Response | None:
            r = fhir.get("/Patient", params={"_content": marker})
            return r if "search" in route(r) and ids(r.json()) == [pid] else None

        served = eventually(served_by_search, what="the search secondary serving the write")
        assert served.json()["entry"][0]["resource"]["name"][0]["given"] == [marker]


def test_token_text_finds_a_word_inside_the_display_on_either_backend(
    stack: LocalStack, tenant: str
) -> None:
    """``code:text`` matches any word of the display by prefix, whether the primary or
    the search secondary answers (issue 18)."""
    condition = {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/nobody"},
        "code": {"coding": [{"code": "44054006", "display": "Type 2 diabetes mellitus"}]},
    }
    with fhir_client(stack, tenant) as fhir:
        created = fhir.post("/Condition", json=condition)
        assert created.status_code == 201, created.text
        cid = created.json()["id"]
        for word in ("diabetes", "mellit"):
            found = fhir.get("/Condition", params={"code:text": word})
            assert found.status_code == 200, found.text
            assert ids(found.json()) == [cid], (word, route(found))

        def served_by_search() -> httpx.Response | None:
            r = fhir.get("/Condition", params={"code:text": "diab"})
            return r if "search" in route(r) and ids(r.json()) == [cid] else None

        eventually(served_by_search, what="the search secondary matching a word of the display")


def _waits_for_search(stack: LocalStack) -> bool:
    mode = stack.sync["mode"]
    return bool((mode["kind"] if isinstance(mode, dict) else mode) != "asynchronous")


def test_read_your_writes(stack: LocalStack, tenant: str, marker: str) -> None:
    """Every mode answers with the write; synchronous and hybrid from the secondary itself
    (the write returned only after the index applied it), asynchronous by waiting for it or
    falling back to the primary."""
    served_by_search = _waits_for_search(stack)

    def check(response: httpx.Response, expected: list[str]) -> None:
        assert response.status_code == 200, response.text
        assert ids(response.json()) == expected
        if served_by_search:
            assert "search" in route(response), response.headers

    with fhir_client(stack, tenant) as fhir:
        pid = fhir.post("/Patient", json=patient(marker)).json()["id"]
        check(fhir.get("/Patient", params={"_text": marker}), [pid])
        updated = {**patient(marker + "x"), "id": pid}
        assert fhir.put(f"/Patient/{pid}", json=updated).status_code == 200
        check(fhir.get("/Patient", params={"_text": marker + "x"}), [pid])
        check(fhir.get("/Patient", params={"_text": marker}), [])
        assert fhir.delete(f"/Patient/{pid}").status_code in (200, 204)
        check(fhir.get("/Patient", params={"_text": marker + "x"}), [])


def test_transaction_writes_are_acknowledged_by_the_index(
    stack: LocalStack, tenant: str, marker: str
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient(marker, n), "request": {"method": "POST", "url": "Patient"}}
            for n in range(5)
        ],
    }
    with fhir_client(stack, tenant) as fhir:
        answer = fhir.post("", json=bundle)
        assert answer.status_code == 200, answer.text
        found = fhir.get("/Patient", params={"_content": marker, "_count": 50})
        assert len(ids(found.json())) == 5


def test_every_search_names_its_backends(stack: LocalStack, tenant: str) -> None:
    with fhir_client(stack, tenant) as fhir:
        plain = fhir.get("/Patient", params={"family": "Nobody"})
        assert route(plain) == ["primary"]
