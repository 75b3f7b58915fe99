"""The gateway's clients of the terminology-indexer, built from the composite config (unit)."""

from __future__ import annotations

import pytest

from polyfhir_core.config import CompositeConfig
from polyfhir_core.contracts.terminology import TerminologyIndex
from polyfhir_gateway.bootstrap import terminology_indexes
from polyfhir_servicekit.contract_client import ServiceClients

pytestmark = pytest.mark.unit


def _config(*terminology: dict[str, object]) -> CompositeConfig:
    return CompositeConfig.model_validate(
        {
            "backends": [
                {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"},
                *terminology,
            ]
        }
    )


async def test_a_terminology_backend_with_a_service_url_gets_a_client() -> None:
    config = _config(
        {
            "id": "terminology",
            "role": "terminology",
            "kind": "postgresql",
            "url": "postgresql://db/terminology",
            "options": {"service_url": "http://terminology-indexer:8084"},
        },
        {"id": "bare", "role": "terminology", "kind": "sqlite", "url": "sqlite:///t.db"},
    )
    clients = ServiceClients()
    try:
        terminologies = terminology_indexes(config, clients)
        assert list(terminologies) == ["terminology"]
        assert isinstance(terminologies["terminology"], TerminologyIndex)
    finally:
        await clients.close()
