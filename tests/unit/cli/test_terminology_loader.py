"""The loader's write plan against an in-memory batch endpoint: idempotent, split, failures."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from fakes.fhir_batch_server import FakeFhirBatchServer
from polyfhir import terminology_cli
from polyfhir.terminology.loader import Failure, LoadSummary, TerminologyLoader


def _cs(rid: str | None, n: int = 3, version: str | None = "1") -> dict[str, Any]:
    cs: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "url": f"http://example.org/cs/{rid or 'anon'}",
        "status": "active",
        "content": "complete",
        "concept": [{"code": f"c{i}", "display": f"Concept {i}"} for i in range(n)],
    }
    if rid is not None:
        cs["id"] = rid
    if version is not None:
        cs["version"] = version
    return cs


async def _load(server: FakeFhirBatchServer, resources: list[Any], **kw: Any) -> LoadSummary:
    async with server.client() as client:
        return await TerminologyLoader(client, **kw).load(resources)


def _counts(s: LoadSummary) -> tuple[int, int, int, int]:
    return s.created, s.updated, s.unchanged, len(s.failed)


async def test_a_reload_writes_nothing_and_counts_unchanged() -> None:
    server = FakeFhirBatchServer()
    resources = [_cs("a"), _cs("b"), _cs(None)]
    assert _counts(await _load(server, resources)) == (3, 0, 0, 0)
    stored = dict(server.versions)
    assert _counts(await _load(server, resources)) == (0, 0, 3, 0)
    assert server.versions == stored  # no new version of anything


async def test_a_changed_resource_is_updated_in_place() -> None:
    server = FakeFhirBatchServer()
    await _load(server, [_cs("a"), _cs(None)])
    changed = [_cs("a", n=4), _cs(None, n=5)]
    assert _counts(await _load(server, changed)) == (0, 2, 0, 0)
    assert len(server.resources) == 2  # the url-matched one was updated, not created again
    assert all(v == 2 for v in server.versions.values())


async def test_without_an_id_a_new_version_is_a_new_resource() -> None:
    server = FakeFhirBatchServer()
    await _load(server, [_cs(None, version="1")])
    assert _counts(await _load(server, [_cs(None, version="2")])) == (1, 0, 0, 0)
    assert len(server.resources) == 2


async def test_resources_go_in_batches_of_the_given_size() -> None:
    server = FakeFhirBatchServer()
    summary = await _load(server, [_cs(f"r{i}") for i in range(7)], max_entries=3)
    assert summary.created == 7
    assert server.bundles_received == 3 * 2  # a read batch and a write batch per chunk


async def test_a_batch_too_large_for_the_server_is_split_until_it_fits() -> None:
    server = FakeFhirBatchServer(max_body_bytes=6_000)
    resources = [_cs(f"r{i}", n=40) for i in range(4)]  # ~2 KB each
    summary = await _load(server, resources, max_bytes=1024 * 1024)
    assert _counts(summary) == (4, 0, 0, 0)


async def test_one_resource_over_the_limit_fails_with_the_servers_outcome() -> None:
    server = FakeFhirBatchServer(max_body_bytes=6_000)
    summary = await _load(server, [_cs("small"), _cs("huge", n=400)])
    assert _counts(summary) == (1, 0, 0, 1)
    failure = summary.failed[0]
    assert failure.what == "CodeSystem/huge"
    assert failure.status.startswith("413")
    assert "exceeds 6000 bytes" in failure.diagnostics


async def test_a_refused_entry_is_reported_and_the_rest_load() -> None:
    server = FakeFhirBatchServer(refused={"bad"})
    summary = await _load(server, [_cs("ok1"), _cs("bad"), _cs("ok2")])
    assert _counts(summary) == (2, 0, 0, 1)
    assert summary.failed[0].what == "CodeSystem/bad"
    assert summary.failed[0].diagnostics == "refused"


async def test_a_resource_with_neither_id_nor_url_is_not_sent() -> None:
    server = FakeFhirBatchServer()
    anonymous = {"resourceType": "ValueSet", "status": "active"}
    summary = await _load(server, [anonymous, _cs("a")])
    assert _counts(summary) == (1, 0, 0, 1)
    assert "needs an id or a url" in summary.failed[0].status
    assert len(server.resources) == 1


async def test_progress_reaches_every_resource() -> None:
    done: list[int] = []
    server = FakeFhirBatchServer()
    async with server.client() as client:
        await TerminologyLoader(client, max_entries=2, progress=done.append).load(
            [_cs(f"p{i}") for i in range(5)]
        )
    assert sum(done) == 5


def test_the_report_lists_failures_and_sets_the_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert terminology_cli.report(LoadSummary(created=2, unchanged=1)) == 0
    summary = LoadSummary(created=1)
    summary.failed.append(Failure("CodeSystem/x", "422", None))
    assert terminology_cli.report(summary) == terminology_cli.EXIT_FAILED
    out = capsys.readouterr().out
    assert "created 1, updated 0, unchanged 0, failed 1" in out
    assert "failed CodeSystem/x: 422" in out


def test_bad_input_exits_2_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"{")
    args = argparse.Namespace(sources=[str(bad)], url="http://127.0.0.1:1/fhir")
    assert terminology_cli.run(args) == terminology_cli.EXIT_BAD_INPUT
    assert "bad input" in capsys.readouterr().out


def test_the_cli_takes_the_documented_arguments() -> None:
    parser = argparse.ArgumentParser()
    terminology_cli.add_parser(parser.add_subparsers(dest="command"), 8080)
    args = parser.parse_args(
        ["terminology", "load", "hl7", "icd10cm", "--tenant", "acme", "--base-url", "http://h/fhir"]
    )
    assert (args.sources, args.tenant, args.url) == (["hl7", "icd10cm"], "acme", "http://h/fhir")


def test_polyfhir_terminology_load_is_a_subcommand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from polyfhir.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["terminology", "load", str(tmp_path / "absent.json"), "--tenant", "acme"])
    assert exited.value.code == terminology_cli.EXIT_BAD_INPUT
    assert "no such file or folder" in capsys.readouterr().out
