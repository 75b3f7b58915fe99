"""What an indexer takes from the composite configuration: its backend's batch size and
retry settings (``sync.batch_size``, ``retry``, each with the backend's overrides).

The composite file (``POLYFHIR_CONFIG_FILE``, plus ``POLYFHIR_CONFIG__*``
overrides) is the one place an operator writes them; without it an indexer
keeps ``POLYFHIR_BATCH_SIZE`` and ``POLYFHIR_APPLY_RETRY``.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from polyfhir_bus.indexing.settings import IndexerSettings
from polyfhir_core.config import BackendConfig, BackendRole, CompositeConfig, load_config

log = logging.getLogger(__name__)
S = TypeVar("S", bound=IndexerSettings)


def indexer_backend(
    config: CompositeConfig, role: BackendRole, backend_id: str | None
) -> BackendConfig | None:
    """The backend ``backend_id`` names, else the first enabled one of ``role``."""
    if backend_id is not None:
        return config.get_backend(backend_id)
    return next((b for b in config.secondaries if b.role is role), None)


def with_composite(settings: S, role: BackendRole) -> S:
    """``settings`` with ``batch_size`` and ``apply_retry`` of this indexer's backend."""
    if not settings.config_file:
        return settings
    config = load_config(settings.config_file)
    backend = indexer_backend(config, role, settings.backend_id)
    if backend is None:
        log.warning(
            "the composite config has no %s backend %s: keeping POLYFHIR_BATCH_SIZE",
            role.value,
            settings.backend_id or "",
        )
        return settings
    batch_size = config.sync_for(backend).batch_size
    retry = config.retry_for(backend)
    log.info(
        "backend %s: batch_size %d, %d write attempts",
        backend.id,
        batch_size,
        retry.max_attempts,
    )
    return settings.model_copy(update={"batch_size": batch_size, "apply_retry": retry})
