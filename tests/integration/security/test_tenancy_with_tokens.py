"""The tenant-isolation tests, run again with tokens on: ``server`` is overridden in
this directory's conftest, so the tenant comes only from the token's claim."""

from __future__ import annotations

import pytest

from integration.api.test_tenancy import (
    test_invalid_tenant_header_is_400,
    test_reads_searches_and_history_stay_in_tenant,
    test_same_id_in_two_tenants_is_two_resources,
    test_writes_cannot_touch_another_tenant,
    two_tenants,
)

pytestmark = pytest.mark.integration

__all__ = [
    "test_invalid_tenant_header_is_400",
    "test_reads_searches_and_history_stay_in_tenant",
    "test_same_id_in_two_tenants_is_two_resources",
    "test_writes_cannot_touch_another_tenant",
    "two_tenants",
]
