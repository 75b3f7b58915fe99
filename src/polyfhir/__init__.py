"""polyfhir: the composition root (one-process topology and local stacks)."""
