"""Domain model, search model, registry, config, errors (no I/O)."""
