-- The tenants registry (docs/tenancy.md "Lifecycle"): a tenant is registered by its
-- first write or by POST /admin/tenants; DELETE /admin/tenants/{t} marks it
-- 'deleting' while its data goes, and removes the row last.
CREATE TABLE tenants (
    tenant  TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    state   TEXT NOT NULL DEFAULT 'active'
) WITHOUT ROWID;
-- Tenants that wrote before the registry existed.
INSERT OR IGNORE INTO tenants (tenant, created)
    SELECT tenant, MIN(last_updated) FROM resource_versions GROUP BY tenant;
