"""``POLYFHIR_DEFAULT_TOTAL``: what a search without ``_total`` reports, on both engines."""

from __future__ import annotations

import uuid

import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.search import parse_search
from polyfhir_core.tenancy import TenantContext

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_setting_decides_the_total_of_a_search_without_total(
    request: pytest.FixtureRequest, backend: str
) -> None:
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url")
    ctx = TenantContext.of(f"t{uuid.uuid4().hex[:10]}")
    totals: dict[str | None, int | None] = {}
    # the unset default last, right after "estimate", with no write between: the same
    # statistics give the same estimate
    for setting in ("accurate", "none", "estimate", None):
        app = await bootstrap(PrimarySettings(primary_url=url, default_total=setting))
        try:
            if setting == "accurate":  # 130 matches: beyond the 100 counted before estimating
                patient = {"resourceType": "Patient", "gender": "other"}
                create = EntryRequest(Method.POST, "Patient", patient)
                for _ in range(2):
                    await app.service.process(ctx, BundleKind.TRANSACTION, [create] * 65)
            query = parse_search("Patient", [("gender", "other"), ("_count", "10")])
            page = await app.service.search(ctx, query)
            assert len(page.resources) == 10
            totals[setting] = page.total
        finally:
            await app.close()
    assert totals["none"] is None
    assert totals["accurate"] == 130
    # an estimate beyond the cap: at least the 101 matches counted; SQLite says just that
    estimate = totals["estimate"]
    assert estimate is not None and estimate > 100
    if backend == "sqlite":
        assert estimate == 101
    # unset: accurate on SQLite, an estimate on PostgreSQL
    assert totals[None] == (130 if backend == "sqlite" else estimate)
