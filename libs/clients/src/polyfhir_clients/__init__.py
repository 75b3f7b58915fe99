"""HTTP clients for the services' internal APIs, implementing the contracts in polyfhir-core."""
