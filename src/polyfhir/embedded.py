"""What ``polyfhir run`` adds in its one process where a stack has a service."""

from __future__ import annotations

from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_gateway.pipeline import QueryPipeline
from polyfhir_terminology.bootstrap import EmbeddedTerminology, beside_primary
from polyfhir_terminology.bootstrap import embedded as embedded_terminology
from polyfhir_terminology.settings import TerminologySettings


async def embed_terminology(
    pipeline: QueryPipeline, primary: PrimaryStore, primary_url: str
) -> EmbeddedTerminology | None:
    """Without a terminology service in the config, one in this process answers the
    operations (docs/terminology.md, "In one process"); the caller closes it."""
    if pipeline.terminology:
        return None
    settings = TerminologySettings()
    if "terminology_url" not in settings.model_fields_set:
        settings = settings.model_copy(update={"terminology_url": beside_primary(primary_url)})
    terminology = await embedded_terminology(primary, settings)
    pipeline.use_terminology_fallback(terminology.index)
    return terminology
