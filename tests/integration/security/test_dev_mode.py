"""``POLYFHIR_AUTH=dev``: ``polyfhir token`` (run as a command, as a developer would)
prints tokens that a server using the same dev-issuer directory accepts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration


def polyfhir_token(dev_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "polyfhir"), "token", *args],
        env={"POLYFHIR_AUTH_DEV_DIR": str(dev_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


@pytest.fixture
async def dev_app(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Path]]:
    from polyfhir_gateway.app import create_app
    from polyfhir_gateway.settings import GatewaySettings
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    dev_dir = tmp_path / "dev-issuer"
    polyfhir_token(dev_dir, "--tenant", "warmup", "--scope", "openid")  # creates the key
    primary = await bootstrap(PrimarySettings(primary_url=f"sqlite:///{tmp_path}/dev.db"))
    app = create_app(primary.service, GatewaySettings(auth="dev", auth_dev_dir=str(dev_dir)))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t/fhir") as client:
            yield client, dev_dir
    finally:
        await primary.close()


async def test_cli_tokens_are_accepted_in_dev_mode(
    dev_app: tuple[httpx.AsyncClient, Path],
) -> None:
    client, dev_dir = dev_app
    token = polyfhir_token(dev_dir, "--tenant", "devt", "--scope", "system/*.cruds")
    auth = {"Authorization": f"Bearer {token}"}
    created = await client.post("/Patient", json={"resourceType": "Patient"}, headers=auth)
    assert created.status_code == 201
    assert (await client.get("/Patient")).status_code == 401
    expired = polyfhir_token(
        dev_dir, "--tenant", "devt", "--scope", "system/*.cruds", "--expires-in", "-3600"
    )
    refused = await client.get("/Patient", headers={"Authorization": f"Bearer {expired}"})
    assert refused.status_code == 401
    assert "expired" in refused.headers["www-authenticate"]
    confined = polyfhir_token(
        dev_dir, "--tenant", "devt", "--scope", "patient/*.rs", "--patient", "nobody"
    )
    page = await client.get("/Patient", headers={"Authorization": f"Bearer {confined}"})
    assert page.json()["total"] == 0  # the patient compartment of "nobody" is empty


async def test_every_access_leaves_an_audit_line_without_content(
    dev_app: tuple[httpx.AsyncClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, dev_dir = dev_app
    token = polyfhir_token(dev_dir, "--tenant", "audited", "--scope", "user/Patient.cr")
    auth = {"Authorization": f"Bearer {token}"}
    secret = "Secretname"
    with caplog.at_level("INFO", logger="polyfhir.audit"):
        body = {"resourceType": "Patient", "name": [{"family": secret}]}
        rid = (await client.post("/Patient", json=body, headers=auth)).json()["id"]
        await client.get(f"/Patient/{rid}", headers=auth)
        await client.get("/Patient", headers=auth)  # no search scope: 403
        await client.get("/Patient")  # no token: 401
        searcher = polyfhir_token(dev_dir, "--tenant", "audited", "--scope", "user/Patient.s")
        await client.get("/Patient", headers={"Authorization": f"Bearer {searcher}"})
    lines = [r for r in caplog.records if r.name == "polyfhir.audit"]
    fields = ("interaction", "resource_type", "ids", "outcome")
    seen = [tuple(getattr(r, f) for f in fields) for r in lines]
    assert seen == [
        ("create", "Patient", [], 201),
        ("read", "Patient", [rid], 200),
        ("search-type", "Patient", [], 403),
        ("search-type", "Patient", [], 401),
        ("search-type", "Patient", [], 200),
    ]
    assert [getattr(r, "tenant", None) for r in lines] == ["audited"] * 3 + [None, "audited"]
    assert all(getattr(r, "client_id", None) == "polyfhir-cli" for r in lines[:3])
    assert all(secret not in str(r.__dict__) for r in lines)
    returned = [getattr(r, "returned", None) for r in lines]
    assert returned[0] == [f"Patient/{rid}"]  # what the create wrote
    assert returned[2:4] == [[], []]  # refused: nothing returned
    assert returned[4] == [f"Patient/{rid}"]  # the search's page
