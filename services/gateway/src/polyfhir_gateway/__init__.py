"""Public FHIR R4 REST API."""
