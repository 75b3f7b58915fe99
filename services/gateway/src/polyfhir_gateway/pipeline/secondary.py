"""What the gateway needs of any secondary: the contracts' own base Protocols
(``polyfhir_core.contracts.secondary``), named here for the pipeline's modules."""

from __future__ import annotations

from polyfhir_core.contracts.secondary import Repairable, Secondary

__all__ = ["Repairable", "Secondary"]
