"""Authentication (bearer tokens), the caller, SMART configuration and the audit log."""
