"""Schema-per-tenant and database-per-tenant placement of the primary's data
(docs/tenancy.md, "Strategies"). The shared strategy is the plain dialect adapters."""
