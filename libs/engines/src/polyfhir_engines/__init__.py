"""Local engines and the local stack as child processes: a runtime part of ``polyfhir``."""
