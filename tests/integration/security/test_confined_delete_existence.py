"""A patient-confined app must not learn that another patient's resource exists.

Reads answer 404 for another patient's resource, as for one that does not exist;
a confined *delete* answers as for a missing resource too (204, nothing deleted;
412 under If-Match), where it once answered 403 (issue 13's leftover, found again
by the isolation work of issue 14). The check is the primary store's
(``service_layer/writes.py``, ``delete``)."""

from __future__ import annotations

import uuid

import pytest

from integration.security.conftest import SecureServer

pytestmark = pytest.mark.integration


async def test_a_confined_delete_does_not_reveal_another_patients_resource(
    server: SecureServer,
) -> None:
    tenant = f"cd{uuid.uuid4().hex[:10]}"
    async with server.client(tenant) as admin:
        mine = (await admin.post("/Patient", json={"resourceType": "Patient"})).json()["id"]
        theirs = (await admin.post("/Patient", json={"resourceType": "Patient"})).json()["id"]
        observation = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": f"Patient/{theirs}"},
        }
        other = (await admin.post("/Observation", json=observation)).json()["id"]
    token = server.issuer.token(tenant, "patient/Observation.cruds", patient=mine)
    async with server.client(token=token) as app:
        existing = await app.delete(f"/Observation/{other}")
        missing = await app.delete(f"/Observation/{uuid.uuid4().hex}")
        guarded = await app.delete(f"/Observation/{other}", headers={"If-Match": 'W/"1"'})
        guarded_missing = await app.delete(
            f"/Observation/{uuid.uuid4().hex}", headers={"If-Match": 'W/"1"'}
        )
    assert existing.status_code == missing.status_code == 204
    assert guarded.status_code == guarded_missing.status_code == 412
    async with server.client(tenant) as admin:  # nothing was deleted
        kept = await admin.get(f"/Observation/{other}")
    assert kept.status_code == 200 and kept.json()["meta"]["versionId"] == "1"
