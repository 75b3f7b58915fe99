"""The tenant-isolation property with tokens on (``POLYFHIR_AUTH=jwks``): every caller holds
a token for its own tenant with every interaction and the admin scope, and still
nothing of another tenant — unrelated, its child or its parent — reaches it
(the probes and the comparison: ``tests/isolation_check.py``, docs/tenancy.md)."""

from __future__ import annotations

import pytest

from integration.security.conftest import SecureServer
from isolation_check import check_isolation

pytestmark = pytest.mark.integration


async def test_no_path_from_another_tenant_reveals_anything_with_tokens(
    server: SecureServer,
) -> None:
    run = await check_isolation(server, f"tokens {server.backend}-{server.topology}")
    print(run.summary)
    assert not run.leaks, "\n".join([run.summary, *run.leaks])
