"""What every polyfhir service shares: the contract server and client, request metrics,
JSON logs, probes."""
