"""What every polyfhir service shares: request metrics, JSON logs, probes."""
